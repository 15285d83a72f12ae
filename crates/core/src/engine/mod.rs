//! executeFunction. (Being built.)
