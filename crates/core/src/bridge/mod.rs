//! The HTTP bridge for remote sandboxes. (Being built.)
