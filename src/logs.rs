//! compressLogs / decompressLogs / logsHeader. (Being built.)
