//! Where functions run. (Being built.)
