//! The database against a real MongoDB-wire server (MONGODB_URL, started by
//! `bash scripts/services.sh start`): every method through `dispatch`, the
//! wire shapes, ObjectId and Date round trips, and the errors.

use std::time::{Duration, Instant};

use runtime_core::cloud::database::Database;
use runtime_core::CloudConfig;
use serde_json::{json, Value};

/// A function's limits: `max_read` bytes, no time limit.
fn limits(max_read: usize) -> runtime_core::cloud::Limits {
    runtime_core::cloud::Limits {
        max_read: Some(max_read),
        max_time: None,
    }
}

fn config(url: &str) -> CloudConfig {
    let mut c = CloudConfig::from_vars(&[]);
    c.mongo_url = Some(url.to_string());
    c.database = "runtime_core_tests".into();
    c
}

fn url() -> String {
    std::env::var("MONGODB_URL")
        .expect("start the test services: bash scripts/services.sh start && source .services/env")
}

fn unique(name: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}_{n}")
}

async fn db() -> Database {
    Database::connect(&config(&url())).await.unwrap()
}

#[tokio::test]
async fn crud_with_the_node_drivers_shapes() {
    let db = db().await;
    let c = unique("crud");
    let call = |m: &'static str, mut a: Value| {
        a["collection"] = json!(c);
        let db = &db;
        async move { db.dispatch(m, a).await }
    };
    let r = call(
        "insertOne",
        json!({ "doc": { "name": "ada", "at": { "$date": "2024-01-02T03:04:05.678Z" } } }),
    )
    .await
    .unwrap();
    assert_eq!(r["acknowledged"], json!(true));
    let id = r["insertedId"].clone();
    assert!(id["$oid"].as_str().unwrap().len() == 24, "{id}");
    let r = call(
        "insertMany",
        json!({ "docs": [{ "name": "bob", "n": 2 }, { "name": "cy", "n": 3 }] }),
    )
    .await
    .unwrap();
    assert_eq!(r["insertedCount"], json!(2));
    assert!(r["insertedIds"]["1"]["$oid"].is_string());

    let one = call("findOne", json!({ "filter": { "_id": id } }))
        .await
        .unwrap();
    assert_eq!(one["name"], json!("ada"));
    assert_eq!(one["at"], json!({ "$date": "2024-01-02T03:04:05.678Z" }));
    assert_eq!(
        call("findOne", json!({ "filter": { "name": "nobody" } }))
            .await
            .unwrap(),
        Value::Null
    );

    let found = call("find", json!({ "filter": { "n": { "$gte": 2 } }, "options": { "sort": { "n": -1 }, "limit": 1, "projection": { "_id": 0, "name": 1 } } })).await.unwrap();
    assert_eq!(found, json!([{ "name": "cy" }]));
    let skipped = call(
        "find",
        json!({ "options": { "sort": { "name": 1 }, "skip": 1 } }),
    )
    .await
    .unwrap();
    assert_eq!(skipped.as_array().unwrap().len(), 2);

    let u = call(
        "updateOne",
        json!({ "filter": { "name": "bob" }, "update": { "$inc": { "n": 10 } } }),
    )
    .await
    .unwrap();
    assert_eq!(
        u,
        json!({ "acknowledged": true, "matchedCount": 1, "modifiedCount": 1, "upsertedCount": 0, "upsertedId": null })
    );
    let u = call(
        "updateMany",
        json!({ "filter": { "n": { "$exists": true } }, "update": { "$set": { "tag": "x" } } }),
    )
    .await
    .unwrap();
    assert_eq!(u["matchedCount"], json!(2));
    let u = call("updateOne", json!({ "filter": { "name": "dee" }, "update": { "$set": { "n": 4 } }, "options": { "upsert": true } })).await.unwrap();
    assert_eq!(u["upsertedCount"], json!(1));
    assert!(u["upsertedId"]["$oid"].is_string());
    let u = call(
        "replaceOne",
        json!({ "filter": { "name": "dee" }, "replacement": { "name": "dee", "n": 5 } }),
    )
    .await
    .unwrap();
    assert_eq!(u["modifiedCount"], json!(1));

    assert_eq!(
        call("countDocuments", json!({ "filter": {} }))
            .await
            .unwrap(),
        json!(4)
    );
    let agg = call("aggregate", json!({ "pipeline": [{ "$match": { "n": { "$gte": 3 } } }, { "$group": { "_id": null, "total": { "$sum": "$n" } } }] })).await.unwrap();
    assert_eq!(agg[0]["total"], json!(20));
    let mut names: Vec<String> =
        serde_json::from_value(call("distinct", json!({ "field": "name" })).await.unwrap())
            .unwrap();
    names.sort();
    assert_eq!(names, ["ada", "bob", "cy", "dee"]);

    let before = call(
        "findOneAndUpdate",
        json!({ "filter": { "name": "cy" }, "update": { "$set": { "n": 30 } } }),
    )
    .await
    .unwrap();
    assert_eq!(before["n"], json!(3));
    let after = call("findOneAndUpdate", json!({ "filter": { "name": "cy" }, "update": { "$set": { "n": 31 } }, "options": { "returnDocument": "after" } })).await.unwrap();
    assert_eq!(after["n"], json!(31));
    let gone = call("findOneAndDelete", json!({ "filter": { "name": "cy" } }))
        .await
        .unwrap();
    assert_eq!(gone["n"], json!(31));

    assert_eq!(
        call("deleteOne", json!({ "filter": { "name": "dee" } }))
            .await
            .unwrap(),
        json!({ "acknowledged": true, "deletedCount": 1 })
    );
    assert_eq!(
        call("deleteMany", json!({ "filter": {} })).await.unwrap()["deletedCount"],
        json!(2)
    );
}

#[tokio::test]
async fn duplicate_keys_and_bad_updates_are_clear_errors() {
    let db = db().await;
    let c = unique("dup");
    let name = db
        .dispatch(
            "createIndex",
            json!({ "collection": c, "keys": { "email": 1 }, "options": { "unique": true } }),
        )
        .await
        .unwrap();
    assert!(name.as_str().unwrap().contains("email"), "{name}");
    db.dispatch(
        "insertOne",
        json!({ "collection": c, "doc": { "email": "a@x" } }),
    )
    .await
    .unwrap();
    let e = db
        .dispatch(
            "insertOne",
            json!({ "collection": c, "doc": { "email": "a@x" } }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "DATABASE_ERROR");
    assert!(
        matches!(
            e,
            runtime_core::Error::Database {
                server_code: Some(11000),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("11000") && e.to_string().contains("duplicate key"),
        "{e}"
    );

    let e = db
        .dispatch(
            "updateOne",
            json!({ "collection": c, "filter": {}, "update": { "email": "b@x" } }),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
    assert_eq!(e.to_string(), "updateOne: invalid update document: it must use update operators like $set (got key \"email\")");

    let e = db
        .dispatch("frobnicate", json!({ "collection": c }))
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("unknown database method \"frobnicate\": expected one of find, findOne"),
        "{e}"
    );
    let e = db
        .dispatch("insertOne", json!({ "collection": c, "doc": [1] }))
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "insertOne: 'doc' must be an object, got an array"
    );
    let e = db.dispatch("find", json!({})).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "find: 'collection' must be a non-empty string"
    );
}

#[tokio::test]
async fn an_unreachable_database_fails_in_time_and_a_live_one_still_works() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = Database::connect(&config(&format!("mongodb://127.0.0.1:{port}")))
        .await
        .unwrap();
    let started = Instant::now();
    let e = down
        .dispatch("findOne", json!({ "collection": "x" }))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.code(), "DATABASE_UNREACHABLE");
    assert!(
        e.to_string().starts_with(&format!(
            "database unreachable: no MongoDB server reachable at 127.0.0.1:{port} within 2000 ms"
        )),
        "{e}"
    );
    let up = db().await;
    up.dispatch("countDocuments", json!({ "collection": unique("live") }))
        .await
        .unwrap();
}

#[tokio::test]
async fn missing_url_names_the_variable() {
    let e = Database::connect(&CloudConfig::from_vars(&[]))
        .await
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "the database is not configured: set MONGODB_URL"
    );
}

#[tokio::test]
async fn loads_functions_from_the_store() {
    let db = db().await;
    let c = unique("functions");
    db.dispatch("insertOne", json!({ "collection": c, "doc": { "name": "hello", "compiled": "module.exports = () => 1", "hash": "h1" } })).await.unwrap();
    db.dispatch(
        "insertOne",
        json!({ "collection": c, "doc": { "name": "raw" } }),
    )
    .await
    .unwrap();
    let f = db.load_function(&c, "hello").await.unwrap().unwrap();
    assert_eq!(
        (f.compiled.as_str(), f.hash.as_str()),
        ("module.exports = () => 1", "h1")
    );
    assert!(db.load_function(&c, "nope").await.unwrap().is_none());
    let e = db.load_function(&c, "raw").await.err().unwrap();
    assert_eq!(e.to_string(), "function raw has no compiled code");
}

/// Host code's `find` (raw BSON straight to JSON text) reads the same
/// documents, in the same order, as the decoded path a function's call takes.
#[tokio::test]
async fn find_as_text_matches_the_decoded_path() {
    use runtime_core::cloud::call::{Caller, Op};
    use runtime_core::cloud::ejson::to_document;
    use runtime_core::cloud::Cloud;
    let cloud = Cloud::new(config(&url()));
    let c = unique("find_text");
    let docs: Vec<Value> = (0..150)
        .map(|i| json!({ "i": i, "s": format!("é\"{i}"), "at": { "$date": { "$numberLong": (1_700_000_000_000i64 + i).to_string() } }, "tags": ["x", { "n": i }] }))
        .collect();
    let insert = Op::decode("db.insertMany", json!({ "collection": c, "docs": docs })).unwrap();
    cloud.apply(insert, Caller::Host).await.unwrap();
    let find = || {
        Op::decode("db.find", json!({ "collection": c, "filter": { "i": { "$gte": 10 } }, "options": { "sort": { "i": 1 } } })).unwrap()
    };
    let text = cloud.apply_json(find(), Caller::Host).await.unwrap();
    let decoded = cloud.apply(find(), Caller::Host).await.unwrap();
    let from_text: Vec<_> = match serde_json::from_str::<Value>(&text).unwrap() {
        Value::Array(a) => a
            .into_iter()
            .map(|d| to_document(d, "doc").unwrap())
            .collect(),
        other => panic!("not an array: {other}"),
    };
    let runtime_core::cloud::bson::Bson::Array(expected) = decoded else {
        panic!("not an array")
    };
    assert_eq!(from_text.len(), 140);
    let expected: Vec<_> = expected
        .into_iter()
        .map(|b| b.as_document().unwrap().clone())
        .collect();
    assert_eq!(from_text, expected);
    // The walls hold on this path too.
    let other = Op::decode("db.find", json!({ "collection": "system.users" })).unwrap();
    let e = cloud.apply_json(other, Caller::Host).await.unwrap_err();
    assert_eq!(e.code(), "DATABASE_FORBIDDEN");
}

/// A function's reads stop at `max_read` bytes (RUNTIME_MAX_READ_BYTES):
/// the host holds each answer in memory. Host code's reads are not bounded.
#[tokio::test]
async fn a_functions_read_stops_at_its_limit() {
    use runtime_core::cloud::call::{Caller, Op};
    use runtime_core::cloud::Cloud;
    let cloud = Cloud::new(config(&url()));
    let c = unique("read_limit");
    // 64 documents of about 1 KiB each.
    let docs: Vec<Value> = (0..64)
        .map(|i| json!({ "i": i, "pad": "x".repeat(1000) }))
        .collect();
    let insert = Op::decode("db.insertMany", json!({ "collection": c, "docs": docs })).unwrap();
    cloud.apply(insert, Caller::Host).await.unwrap();
    let find = |filter: Value| {
        Op::decode("db.find", json!({ "collection": c, "filter": filter })).unwrap()
    };
    let aggregate =
        || Op::decode("db.aggregate", json!({ "collection": c, "pipeline": [] })).unwrap();

    let e = cloud
        .apply_within(find(json!({})), Caller::Function, limits(16 * 1024))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "READ_TOO_LARGE");
    assert_eq!(
        e.to_string(),
        format!("the result of find on {c:?} is larger than 16384 bytes (RUNTIME_MAX_READ_BYTES): narrow it with a filter, a projection or a limit, and page through the rest with skip")
    );
    let e = cloud
        .apply_within(aggregate(), Caller::Function, limits(16 * 1024))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "READ_TOO_LARGE");
    assert!(
        e.to_string()
            .starts_with(&format!("the result of aggregate on {c:?}")),
        "{e}"
    );
    // Under the limit, and for host code, every document comes back.
    let some = cloud
        .apply_within(
            find(json!({ "i": { "$lt": 8 } })),
            Caller::Function,
            limits(16 * 1024),
        )
        .await
        .unwrap();
    assert_eq!(some.as_array().map(Vec::len), Some(8));
    let all = cloud.apply(find(json!({})), Caller::Host).await.unwrap();
    assert_eq!(all.as_array().map(Vec::len), Some(64));
}

/// A function's database reads carry the time left before its deadline as
/// `maxTimeMS`: the server stops a query the function can no longer use
/// (code 50, MaxTimeMSExpired) instead of running on after it.
#[tokio::test]
async fn a_functions_read_stops_at_its_deadline() {
    use runtime_core::cloud::call::{Caller, Op};
    use runtime_core::cloud::{Cloud, Limits};
    let cloud = Cloud::new(config(&url()));
    let c = unique("time_limit");
    let docs: Vec<Value> = (0..2000).map(|i| json!({ "i": i })).collect();
    let insert = Op::decode("db.insertMany", json!({ "collection": c, "docs": docs })).unwrap();
    cloud.apply(insert, Caller::Host).await.unwrap();
    // Each document costs the server a 20 000-element array.
    let slow = json!({ "$expr": { "$gt": [{ "$size": { "$range": [0, 20000] } }, 5] } });
    let within = |ms: u64| Limits {
        max_read: None,
        max_time: Some(Duration::from_millis(ms)),
    };
    for op in ["db.find", "db.findOne", "db.countDocuments"] {
        let call = Op::decode(
            op,
            json!({ "collection": c, "filter": { "$and": [slow.clone(), { "i": -1 }] } }),
        )
        .unwrap();
        let started = Instant::now();
        let e = cloud
            .apply_within(call, Caller::Function, within(100))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "DATABASE_ERROR", "{op}: {e}");
        assert_eq!(
            e.server_code(),
            Some((50, Some("MaxTimeMSExpired"))),
            "{op}: {e}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{op}: {:?}",
            started.elapsed()
        );
    }
    // A read that fits in its time answers as usual.
    let quick = Op::decode(
        "db.countDocuments",
        json!({ "collection": c, "filter": { "i": { "$lt": 10 } } }),
    )
    .unwrap();
    let n = cloud
        .apply_within(quick, Caller::Function, within(5000))
        .await
        .unwrap();
    assert_eq!(n, runtime_core::cloud::bson::Bson::Int64(10));
}

#[tokio::test]
async fn bulk_write_runs_each_operation_in_turn_and_names_failures_by_index() {
    let db = db().await;
    let c = unique("bulk");
    let bulk = |ops: Value, ordered: bool| {
        let db = &db;
        let args = json!({ "collection": c, "ops": ops, "options": { "ordered": ordered } });
        async move { db.dispatch("bulkWrite", args).await }
    };
    db.dispatch(
        "createIndex",
        json!({ "collection": c, "keys": { "k": 1 }, "options": { "unique": true } }),
    )
    .await
    .unwrap();
    let ops = json!([
        { "method": "insertOne", "args": { "doc": { "k": 1 } } },
        { "method": "insertOne", "args": { "doc": { "k": 1 } } },
        { "method": "updateOne", "args": { "filter": { "k": 2 }, "update": { "$set": { "v": 1 } }, "options": { "upsert": true } } },
        { "method": "deleteMany", "args": { "filter": { "k": 1 } } }
    ]);
    // Ordered: stops at the duplicate (index 1).
    let r = bulk(ops.clone(), true).await.unwrap();
    assert_eq!(r["result"]["insertedCount"], json!(1), "{r}");
    assert_eq!(r["result"]["upsertedCount"], json!(0), "{r}");
    let errors = r["writeErrors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{r}");
    assert_eq!(errors[0]["index"], json!(1));
    assert_eq!(errors[0]["serverCode"], json!(11000));
    assert_eq!(errors[0]["errorCode"], json!("DATABASE_ERROR"));
    assert!(errors[0]["error"]
        .as_str()
        .unwrap()
        .contains("duplicate key"));
    // Unordered: the rest runs (the first insert now fails too: k 1 is there).
    let r = bulk(ops, false).await.unwrap();
    assert_eq!(r["writeErrors"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(r["result"]["upsertedCount"], json!(1), "{r}");
    assert!(r["result"]["upsertedIds"]["2"]["$oid"].is_string(), "{r}");
    assert_eq!(r["result"]["deletedCount"], json!(1), "{r}");
    let left = db
        .dispatch("countDocuments", json!({ "collection": c }))
        .await
        .unwrap();
    assert_eq!(left, json!(1));
    // A run of inserts after another operation is one insertMany, its
    // failures named by their place in the bulk.
    let r = bulk(
        json!([
            { "method": "deleteMany", "args": { "filter": { "k": 5 } } },
            { "method": "insertOne", "args": { "doc": { "k": 5 } } },
            { "method": "insertOne", "args": { "doc": { "k": 5 } } },
            { "method": "insertOne", "args": { "doc": { "k": 6 } } }
        ]),
        true,
    )
    .await
    .unwrap();
    assert_eq!(r["result"]["insertedCount"], json!(1), "{r}");
    assert!(r["result"]["insertedIds"]["1"]["$oid"].is_string(), "{r}");
    assert_eq!(r["writeErrors"][0]["index"], json!(2), "{r}");
    assert_eq!(r["writeErrors"].as_array().unwrap().len(), 1, "{r}");
}
