//! Storage against a real S3 server (S3_* from `bash scripts/services.sh
//! start`; s3s-fs checks SigV4 signatures, presigned URLs included).

use std::time::{Duration, Instant};

use runtime_core::cloud::storage::Storage;
use runtime_core::CloudConfig;
use serde_json::{json, Value};

fn config() -> CloudConfig {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let c = CloudConfig::from_vars(&vars);
    assert!(
        c.s3.endpoint.is_some(),
        "start the test services: bash scripts/services.sh start && source .services/env"
    );
    c
}

fn prefix(name: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("tests/{name}-{n}/")
}

async fn storage() -> Storage {
    Storage::new(&config()).unwrap()
}

#[tokio::test]
async fn every_byte_value_round_trips() {
    let s = storage().await;
    let b = s.bucket(None).unwrap();
    let key = format!("{}bytes.bin", prefix("bytes"));
    let all: Vec<u8> = (0..=255u8).collect();
    b.write_file(&key, all.clone(), None).await.unwrap();
    assert_eq!(b.read_file(&key, None).await.unwrap(), all);
}

#[tokio::test]
async fn list_delete_and_missing_keys() {
    let s = storage().await;
    let b = s.bucket(None).unwrap();
    let p = prefix("list");
    b.write_file(&format!("{p}a.txt"), b"hello".to_vec(), Some("text/plain"))
        .await
        .unwrap();
    b.write_file(&format!("{p}b.txt"), b"hi".to_vec(), None)
        .await
        .unwrap();
    let files = b.list_files(Some(&p), None).await.unwrap();
    assert_eq!(files.len(), 2);
    // A function's listing stops at its read limit (each entry: key + 64).
    let one = p.len() + 5 + 64;
    assert_eq!(
        b.list_files(Some(&p), Some(2 * one)).await.unwrap().len(),
        2
    );
    let e = b.list_files(Some(&p), Some(2 * one - 1)).await.unwrap_err();
    assert_eq!(e.code(), "READ_TOO_LARGE");
    assert_eq!(
        e.to_string(),
        format!(
            "the listing of {p:?} in bucket {} is larger than {} bytes (RUNTIME_MAX_READ_BYTES): list a narrower prefix",
            b.name(),
            2 * one - 1
        )
    );
    assert_eq!(files[0].key, format!("{p}a.txt"));
    assert_eq!(files[0].size, 5);
    assert!(files[0].last_modified.is_some(), "{files:?}");
    // s3s-fs lists no ETag (AWS does); when present it is not empty.
    assert!(
        files.iter().all(|f| f.etag.as_deref() != Some("")),
        "{files:?}"
    );
    b.delete_file(&format!("{p}a.txt")).await.unwrap();
    let e = b.read_file(&format!("{p}a.txt"), None).await.unwrap_err();
    assert_eq!(e.code(), "STORAGE_NOT_FOUND");
    assert_eq!(
        e.to_string(),
        format!("file not found: {p}a.txt in bucket {}", b.name())
    );
}

#[tokio::test]
async fn missing_bucket_and_wrong_credentials_have_their_own_errors() {
    let s = storage().await;
    let e = s
        .bucket(Some("no-such-bucket-here"))
        .unwrap()
        .read_file("x", None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "STORAGE_BUCKET_NOT_FOUND", "{e}");
    assert_eq!(e.to_string(), "bucket not found: no-such-bucket-here");

    let mut c = config();
    c.s3.secret_access_key = Some("wrong-secret".into());
    let bad = Storage::new(&c).unwrap();
    let e = bad
        .bucket(None)
        .unwrap()
        .write_file("x", b"1".to_vec(), None)
        .await
        .unwrap_err();
    assert_eq!(e.code(), "STORAGE_AUTH", "{e}");
    assert!(
        e.to_string()
            .starts_with("storage rejected the credentials:"),
        "{e}"
    );
    assert!(
        e.to_string()
            .ends_with("(check S3_ACCESS_KEY and S3_SECRET_KEY)"),
        "{e}"
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_is_a_quick_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = config();
    c.s3.endpoint = Some(format!("http://127.0.0.1:{port}"));
    let s = Storage::new(&c).unwrap();
    let started = Instant::now();
    let e = s
        .bucket(None)
        .unwrap()
        .read_file("x", None)
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.code(), "STORAGE_UNREACHABLE");
    assert!(
        e.to_string()
            .starts_with(&format!("storage unreachable: http://127.0.0.1:{port}")),
        "{e}"
    );
}

#[tokio::test]
async fn presigned_urls_work_with_plain_http_and_tampering_is_refused() {
    let s = storage().await;
    let b = s.bucket(None).unwrap();
    let p = prefix("presign");
    let key = format!("{p}file with spaces+ü.txt");
    b.write_file(&key, b"presigned bytes".to_vec(), None)
        .await
        .unwrap();
    let http = reqwest::Client::new();

    let url = b.download_url(&key, Some(60)).unwrap();
    let res = http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"presigned bytes");

    let last = url.chars().last().unwrap();
    let tampered = format!(
        "{}{}",
        &url[..url.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    assert_eq!(http.get(&tampered).send().await.unwrap().status(), 403);

    let up_key = format!("{p}uploaded.txt");
    let put = b.upload_url(&up_key, Some(60)).unwrap();
    let res = http
        .put(&put)
        .body("via presigned PUT")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(
        b.read_file(&up_key, None).await.unwrap(),
        b"via presigned PUT"
    );

    let e = b.download_url(&key, Some(604_801)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "expiresIn must be an integer from 1 to 604800, got 604801"
    );
    assert!(b.download_url(&key, Some(604_800)).is_ok());
}

#[tokio::test]
async fn dispatch_speaks_the_wire_format() {
    let s = storage().await;
    let p = prefix("wire");
    let key = format!("{p}w.bin");
    s.dispatch(
        "writeFile",
        json!({ "key": key, "data": { "$binary": { "base64": "AP8=", "subType": "00" } } }),
    )
    .await
    .unwrap();
    let r = s.dispatch("readFile", json!({ "key": key })).await.unwrap();
    assert_eq!(
        r,
        json!({ "$binary": { "base64": "AP8=", "subType": "00" } })
    );
    s.dispatch(
        "writeFile",
        json!({ "key": format!("{p}t.txt"), "data": "text" }),
    )
    .await
    .unwrap();
    let list = s
        .dispatch("listFiles", json!({ "prefix": p }))
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list[0]["lastModified"]["$date"].is_string(), "{list}");
    let url = s
        .dispatch("getDownloadUrl", json!({ "key": key, "expiresIn": 10 }))
        .await
        .unwrap();
    assert!(url.as_str().unwrap().contains("X-Amz-Expires=10"));
    let e = s
        .dispatch("writeFile", json!({ "key": key, "data": 5 }))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "writeFile: 'data' must be a string or a Buffer"
    );
    let e = s.dispatch("chmod", json!({})).await.unwrap_err();
    assert!(e
        .to_string()
        .starts_with("unknown storage method \"chmod\""));
    assert_eq!(
        s.dispatch("deleteFile", json!({ "key": key }))
            .await
            .unwrap(),
        Value::Null
    );
}

#[tokio::test]
async fn missing_settings_name_their_variables() {
    let e = Storage::new(&CloudConfig::from_vars(&[])).err().unwrap();
    assert_eq!(
        e.to_string(),
        "storage credentials is not configured: set S3_ACCESS_KEY and S3_SECRET_KEY"
    );
    let mut c = config();
    c.s3.bucket = None;
    let e = Storage::new(&c).unwrap().bucket(None).err().unwrap();
    assert_eq!(
        e.to_string(),
        "the default bucket is not configured: set S3_BUCKET"
    );
}

/// A function's `readFile` stops at `max_read` bytes (RUNTIME_MAX_READ_BYTES)
/// with a clear error; under it, and with no limit, the file is whole.
#[tokio::test]
async fn a_read_stops_at_its_limit() {
    let s = storage().await;
    let b = s.bucket(None).unwrap();
    let key = format!("{}big.bin", prefix("read-limit"));
    b.write_file(&key, vec![7u8; 5000], None).await.unwrap();
    let e = b.read_file(&key, Some(4096)).await.unwrap_err();
    assert_eq!(e.code(), "READ_TOO_LARGE");
    assert_eq!(
        e.to_string(),
        format!(
            "file {key} in bucket {} is larger than 4096 bytes (RUNTIME_MAX_READ_BYTES): read it with a download URL (getDownloadUrl) instead",
            b.name()
        )
    );
    assert_eq!(b.read_file(&key, Some(5000)).await.unwrap().len(), 5000);
    assert_eq!(b.read_file(&key, None).await.unwrap().len(), 5000);
}
