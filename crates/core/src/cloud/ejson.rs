//! MongoDB Extended JSON on the wire between sandboxes and the core. (Being built.)
