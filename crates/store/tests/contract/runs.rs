//! Ingestion runs: the queue, worker leases, cancelling and listing.

use super::{org_id as org, TestStore};
use brandstream_domain::OrgId;
use brandstream_store::{RunQuery, RunRecord, RunStatus, Stamp};
use serde_json::json;

fn run(org: &OrgId, id: &str, created_at: i64) -> RunRecord {
    RunRecord {
        id: id.into(),
        org_id: org.clone(),
        pipeline_id: "BrandIngestionPipeline".into(),
        kit_id: "kit".into(),
        parameters: json!({"b": 1, "a": 2}),
        status: RunStatus::Queued,
        message: String::new(),
        progress: json!({}),
        run_start: None,
        run_end: None,
        duration_ms: 0,
        attempts: 0,
        lease_owner: None,
        lease_until: None,
        stamp: Stamp::new(created_at, "test"),
    }
}

/// Cancels the run `id` of `org` at `at` on behalf of `by`: the run afterwards, or `None` when
/// the organisation has no such run.
async fn cancel(store: &TestStore, org: &OrgId, id: &str, at: i64, by: &str) -> Option<RunRecord> {
    store.cancel_run(org, id, at, by).await.unwrap()
}

async fn concurrent_workers_claim_each_run_once(store: TestStore) {
    let acme = org('A');
    for index in 0..20 {
        store
            .insert_run(&run(&acme, &format!("run-{index:02}"), index))
            .await
            .unwrap();
    }
    let mut workers = Vec::new();
    for worker in 0..8 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let owner = format!("worker-{worker}");
            let mut claimed = Vec::new();
            while let Some(run) = store.claim_run(&owner, 1_000, 2_000).await.unwrap() {
                assert_eq!(run.lease_owner.as_deref(), Some(owner.as_str()));
                claimed.push(run.id);
            }
            claimed
        }));
    }
    let mut claimed = Vec::new();
    for worker in workers {
        claimed.extend(worker.await.unwrap());
    }
    claimed.sort();
    let expected: Vec<String> = (0..20).map(|index| format!("run-{index:02}")).collect();
    assert_eq!(claimed, expected);
    let (total, runs) = store
        .list_runs(
            &acme,
            &RunQuery {
                status: Some(RunStatus::InProgress),
                limit: 100,
                ..RunQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(total, 20);
    assert!(runs
        .iter()
        .all(|run| run.attempts == 1 && run.run_start == Some(1_000)));
}

async fn leases_expire_and_only_their_holder_acts(store: TestStore) {
    let acme = org('A');
    let first_run = run(&acme, "r1", 1);
    store.insert_run(&first_run).await.unwrap();
    assert_eq!(store.get_run(&acme, "r1").await.unwrap(), Some(first_run));
    assert!(store.get_run(&org('B'), "r1").await.unwrap().is_none());
    let first = store.claim_run("a", 100, 200).await.unwrap().unwrap();
    assert_eq!(first.status, RunStatus::InProgress);
    assert_eq!((first.attempts, first.run_start), (1, Some(100)));
    // Held: nobody else gets it or can act on it.
    assert!(store.claim_run("b", 150, 250).await.unwrap().is_none());
    assert!(store
        .heartbeat_run("r1", "b", &json!({}), 150, 250)
        .await
        .unwrap()
        .is_none());
    assert!(!store.release_run("r1", "b", 150).await.unwrap());
    assert_eq!(
        store
            .heartbeat_run("r1", "a", &json!({"stage": "read"}), 150, 199)
            .await
            .unwrap(),
        Some(RunStatus::InProgress)
    );
    // The lease lapses (its holder died): another worker takes it over.
    let second = store.claim_run("b", 200, 300).await.unwrap().unwrap();
    assert_eq!(second.lease_owner.as_deref(), Some("b"));
    assert_eq!((second.attempts, second.run_start), (2, Some(100)));
    assert_eq!(second.progress, json!({"stage": "read"}));
    // The old holder can no longer finish it; the new one can.
    assert!(!store
        .finish_run("r1", "a", RunStatus::Succeeded, "", &json!({}), 210)
        .await
        .unwrap());
    assert!(store
        .finish_run(
            "r1",
            "b",
            RunStatus::Succeeded,
            "done",
            &json!({"n": 1}),
            5_100
        )
        .await
        .unwrap());
    let done = store.get_run(&acme, "r1").await.unwrap().unwrap();
    assert_eq!(done.status, RunStatus::Succeeded);
    assert_eq!((done.run_end, done.duration_ms), (Some(5_100), 5));
    assert_eq!((done.lease_owner, done.lease_until), (None, None));
    assert!(store
        .claim_run("c", 10_000, 20_000)
        .await
        .unwrap()
        .is_none());

    // Released runs go back to the queue, oldest first.
    store.insert_run(&run(&acme, "r3", 3)).await.unwrap();
    store.insert_run(&run(&acme, "r2", 2)).await.unwrap();
    let taken = store.claim_run("a", 100, 200).await.unwrap().unwrap();
    assert_eq!(taken.id, "r2");
    assert!(store.release_run("r2", "a", 110).await.unwrap());
    let released = store.get_run(&acme, "r2").await.unwrap().unwrap();
    assert_eq!(released.status, RunStatus::Queued);
    assert_eq!(
        (released.lease_owner, released.lease_until),
        (None, Some(0))
    );
    assert_eq!(
        store.claim_run("b", 120, 220).await.unwrap().unwrap().id,
        "r2"
    );

    // Listing: newest first, filtered, paged.
    let (total, runs) = store
        .list_runs(
            &acme,
            &RunQuery {
                limit: 2,
                offset: 1,
                ..RunQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(total, 3);
    let ids: Vec<&str> = runs.iter().map(|run| run.id.as_str()).collect();
    assert_eq!(ids, ["r2", "r1"]);
    let (total, _) = store
        .list_runs(
            &acme,
            &RunQuery {
                kit_id: Some("kit".into()),
                pipeline_id: Some("EnrichSectionsPipeline".into()),
                limit: 10,
                ..RunQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(total, 0);
}

async fn cancelling_ends_queued_runs_and_asks_running_ones_to_stop(store: TestStore) {
    let acme = org('A');
    store.insert_run(&run(&acme, "queued", 1)).await.unwrap();
    let cancelled = cancel(&store, &acme, "queued", 5, "me").await.unwrap();
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert_eq!(cancelled.run_end, Some(5));
    assert_eq!(cancelled.message, "Cancelled before it started");
    assert!(store.claim_run("a", 10, 20).await.unwrap().is_none());
    // Finished runs come back unchanged; unknown ones not at all.
    let again = cancel(&store, &acme, "queued", 6, "you").await;
    assert_eq!(again, Some(cancelled));
    assert!(cancel(&store, &org('B'), "queued", 6, "you")
        .await
        .is_none());

    store.insert_run(&run(&acme, "running", 2)).await.unwrap();
    store.claim_run("a", 10, 20).await.unwrap().unwrap();
    let canceling = cancel(&store, &acme, "running", 11, "me").await.unwrap();
    assert_eq!(canceling.status, RunStatus::Canceling);
    assert_eq!(canceling.run_end, None);
    let seen = store
        .heartbeat_run("running", "a", &json!({}), 12, 22)
        .await
        .unwrap();
    assert_eq!(seen, Some(RunStatus::Canceling));
    // A canceling run whose worker died is claimed again (to be wound up), still canceling.
    let reclaimed = store.claim_run("b", 30, 40).await.unwrap().unwrap();
    assert_eq!(reclaimed.status, RunStatus::Canceling);
}

async fn a_restart_releases_every_held_run_at_once(store: TestStore) {
    let acme = org('A');
    for (id, at) in [("running", 1), ("canceling", 2), ("done", 3), ("queued", 4)] {
        store.insert_run(&run(&acme, id, at)).await.unwrap();
    }
    // A process that died held the first three (oldest first) and finished one.
    for _ in 0..3 {
        store.claim_run("dead", 10, 1_000).await.unwrap().unwrap();
    }
    assert!(store
        .finish_run("done", "dead", RunStatus::Succeeded, "", &json!({}), 11)
        .await
        .unwrap());
    cancel(&store, &acme, "canceling", 12, "test")
        .await
        .unwrap();
    // Long before the leases end, the two it still held are released.
    assert_eq!(store.release_all_runs(20).await.unwrap(), 2);
    let status = |id: &'static str| {
        let store = store.clone();
        let acme = acme.clone();
        async move { store.get_run(&acme, id).await.unwrap().unwrap() }
    };
    let running = status("running").await;
    assert_eq!(
        (running.status, running.lease_owner),
        (RunStatus::Queued, None)
    );
    assert_eq!(status("canceling").await.status, RunStatus::Canceling);
    assert_eq!(status("done").await.status, RunStatus::Succeeded);
    // The new process claims them at once; nothing is left held.
    let mut claimed = Vec::new();
    while let Some(run) = store.claim_run("new", 21, 1_000).await.unwrap() {
        claimed.push((run.id.to_string(), run.status));
    }
    claimed.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        claimed,
        [
            ("canceling".to_owned(), RunStatus::Canceling),
            ("queued".to_owned(), RunStatus::InProgress),
            ("running".to_owned(), RunStatus::InProgress),
        ]
    );
    assert_eq!(status("queued").await.status, RunStatus::InProgress);
    assert_eq!(store.release_all_runs(22).await.unwrap(), 3);
}

async fn runs_of_a_node_whose_heartbeat_stopped_are_taken_over(store: TestStore) {
    const SECOND: i64 = 1_000_000;
    let acme = org('A');
    for (id, at) in [("r1", 1), ("r2", 2)] {
        store.insert_run(&run(&acme, id, at)).await.unwrap();
    }
    // Node a's worker holds r1 with a long run lease and a beats until second 16; legacy
    // holds r2 and never registered a node lease; node "a-w" (a prefix of a's worker names,
    // but another node) stopped long ago.
    assert!(store
        .acquire_lease(&brandstream_store::node_lease_name("a"), "a", 10, 6)
        .await
        .unwrap());
    assert!(store
        .acquire_lease(&brandstream_store::node_lease_name("a-w"), "a-w", 1, 1)
        .await
        .unwrap());
    let claimed = store
        .claim_run("a-w0", 10 * SECOND, 600 * SECOND)
        .await
        .unwrap();
    assert_eq!(claimed.unwrap().id.to_string(), "r1");
    let claimed = store
        .claim_run("legacy", 10 * SECOND, 600 * SECOND)
        .await
        .unwrap();
    assert_eq!(claimed.unwrap().id.to_string(), "r2");
    // While a beats, nobody takes its run.
    assert!(store
        .claim_run("b", 15 * SECOND, 600 * SECOND)
        .await
        .unwrap()
        .is_none());
    // Its heartbeat stopped: b takes r1 over at once; r2 waits for its run lease.
    let taken = store
        .claim_run("b", 17 * SECOND, 600 * SECOND)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((taken.id.to_string(), taken.attempts), ("r1".to_owned(), 2));
    assert!(store
        .claim_run("b", 17 * SECOND, 600 * SECOND)
        .await
        .unwrap()
        .is_none());
    // Old node leases are forgotten; other leases stay.
    assert!(store
        .acquire_lease("maintenance", "b", 17, 150)
        .await
        .unwrap());
    assert_eq!(
        store
            .forget_leases(brandstream_store::NODE_LEASE_PREFIX, 17)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .forget_leases(brandstream_store::NODE_LEASE_PREFIX, 17)
            .await
            .unwrap(),
        0
    );
    assert!(!store
        .acquire_lease("maintenance", "c", 18, 150)
        .await
        .unwrap());
}

contract_tests! {
    a_restart_releases_every_held_run_at_once,
    runs_of_a_node_whose_heartbeat_stopped_are_taken_over,
    concurrent_workers_claim_each_run_once,
    leases_expire_and_only_their_holder_acts,
    cancelling_ends_queued_runs_and_asks_running_ones_to_stop,
}
