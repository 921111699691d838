//! Job schedules through the REST API, on a manual clock the tests move forward: due times,
//! recurrence, one active job at a time, start windows, doNotRunAfter, disable/enable,
//! terminate, delete, and the errors.

mod common;

use batch_emulator::clock::ManualClock;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

struct Fixture {
    emu: TestEmulator,
    clock: Arc<ManualClock>,
    start: OffsetDateTime,
}

async fn fixture() -> Fixture {
    let start = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let emu = emulator_with_clock(Runner::Fake, clock.clone()).await;
    emu.pool("p", 1, 2, "spread").await;
    Fixture { emu, clock, start }
}

fn at(t: OffsetDateTime) -> String {
    batch_client::timefmt::format_body(t)
}

impl Fixture {
    async fn create(&self, body: Value) {
        let r = self.emu.client.send_json(Method::POST, "/jobschedules", &body).await.expect("create schedule");
        assert_eq!(r.status, 201);
    }
    async fn schedule(&self, id: &str) -> Value {
        self.emu.client.get_json(&format!("/jobschedules/{id}"), &[]).await.unwrap()
    }
    async fn jobs(&self, id: &str) -> Vec<String> {
        let jobs: Vec<Value> = self.emu.client.list_all(&format!("/jobschedules/{id}/jobs"), &[]).await.unwrap();
        jobs.iter().map(|j| j["id"].as_str().unwrap().to_string()).collect()
    }
    async fn job(&self, id: &str) -> Value {
        self.emu.client.get_json(&format!("/jobs/{}", batch_client::encode_segment(id)), &[]).await.unwrap()
    }
    async fn terminate_job(&self, id: &str) {
        self.emu.client.send_raw(Method::POST, &format!("/jobs/{}/terminate", batch_client::encode_segment(id)), &[], &[], None).await.unwrap();
    }
    /// Moves the clock and waits until the schedule's jobs are `expected`.
    async fn advance_until_jobs(&self, by: Duration, id: &str, expected: &[&str]) {
        self.clock.advance(by);
        for _ in 0..4000 {
            if self.jobs(id).await == expected {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("schedule {id}: jobs {:?}, expected {expected:?}", self.jobs(id).await);
    }
    async fn state_becomes(&self, id: &str, state: &str) -> Value {
        for _ in 0..4000 {
            let s = self.schedule(id).await;
            if s["state"] == state {
                return s;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("schedule {id} never became {state}: {}", self.schedule(id).await);
    }
}

fn spec() -> Value {
    json!({"poolInfo": {"poolId": "p"}})
}

#[tokio::test]
async fn a_one_off_schedule_creates_its_job_at_once_and_completes_with_it() {
    let f = fixture().await;
    // The job manager's completion ends the job, which ends the schedule.
    f.create(json!({"id": "once", "schedule": {}, "jobSpecification": {"poolInfo": {"poolId": "p"}, "jobManagerTask": {"id": "m", "commandLine": "exit 0"}}}))
        .await;
    assert_eq!(f.jobs("once").await, ["once:job-1"]);
    // UNCONFIRMED layout: a schedule's job n is instance job-n of the schedule's work item.
    let m = f.emu.completed("once:job-1", "m").await;
    assert_eq!(m.node_info.unwrap().task_root_directory.as_deref(), Some("workitems/once/job-1/m"));
    let s = f.state_becomes("once", "completed").await;
    assert_eq!(s["executionInfo"]["recentJob"]["id"], "once:job-1");
    assert!(s["executionInfo"]["recentJob"]["url"].as_str().unwrap().ends_with("/jobs/once%3Ajob-1"));
    assert!(s["executionInfo"]["endTime"].is_string());
    assert!(s["executionInfo"].get("nextRunTime").is_none(), "{s}");
    let j = f.job("once:job-1").await;
    assert_eq!((j["state"].as_str(), j["executionInfo"]["terminateReason"].as_str()), (Some("completed"), Some("JMComplete")));
    // The echo has the service's defaults in the job specification.
    assert_eq!(s["jobSpecification"]["onAllTasksComplete"], "noaction");
    assert!(s["jobSpecification"].get("id").is_none());
}

#[tokio::test]
async fn a_recurring_schedule_keeps_one_job_active_and_skips_what_its_window_misses() {
    let f = fixture().await;
    let c = f.start;
    f.create(json!({"id": "r", "schedule": {"doNotRunUntil": at(c + Duration::minutes(30)), "recurrenceInterval": "PT1H"}, "jobSpecification": spec()})).await;
    let s = f.schedule("r").await;
    assert_eq!(s["executionInfo"]["nextRunTime"], at(c + Duration::minutes(30)));
    assert!(f.jobs("r").await.is_empty());

    f.advance_until_jobs(Duration::minutes(30), "r", &["r:job-1"]).await;
    assert_eq!(f.schedule("r").await["executionInfo"]["nextRunTime"], at(c + Duration::minutes(90)));
    // Due again while job-1 is still active: nothing until job-1 completes (within the window).
    f.clock.advance(Duration::minutes(70));
    assert_eq!(f.jobs("r").await, ["r:job-1"]);
    f.terminate_job("r:job-1").await;
    f.advance_until_jobs(Duration::ZERO, "r", &["r:job-1", "r:job-2"]).await;
    assert_eq!(f.schedule("r").await["executionInfo"]["nextRunTime"], at(c + Duration::minutes(150)));

    // job-2 outlives the whole next interval: that due time (c+150m) is skipped; the next one
    // (c+210m) is waiting when job-2 ends, so job-3 is created then.
    f.clock.advance(Duration::minutes(115));
    for _ in 0..4000 {
        if f.schedule("r").await["executionInfo"]["nextRunTime"] == at(c + Duration::minutes(210)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(f.schedule("r").await["executionInfo"]["nextRunTime"], at(c + Duration::minutes(210)));
    assert_eq!(f.jobs("r").await, ["r:job-1", "r:job-2"]);
    f.terminate_job("r:job-2").await;
    f.advance_until_jobs(Duration::ZERO, "r", &["r:job-1", "r:job-2", "r:job-3"]).await;
    assert_eq!(f.schedule("r").await["state"], "active");
}

#[tokio::test]
async fn no_job_is_created_after_do_not_run_after_and_the_schedule_then_completes() {
    let f = fixture().await;
    let c = f.start;
    let quick = json!({"poolInfo": {"poolId": "p"}, "jobManagerTask": {"id": "m", "commandLine": "exit 0"}});
    f.create(json!({"id": "d", "schedule": {"recurrenceInterval": "PT1H", "doNotRunAfter": at(c + Duration::minutes(90))}, "jobSpecification": quick})).await;
    assert_eq!(f.jobs("d").await, ["d:job-1"]);
    f.advance_until_jobs(Duration::hours(1), "d", &["d:job-1", "d:job-2"]).await;
    assert_eq!(f.schedule("d").await["state"], "active");
    // The deadline passes with no job active: completed then, not at the next due time.
    f.clock.advance(Duration::minutes(31));
    let s = f.state_becomes("d", "completed").await;
    assert_eq!(s["executionInfo"]["endTime"], at(c + Duration::minutes(91)));
    f.clock.advance(Duration::hours(5));
    assert_eq!(f.jobs("d").await, ["d:job-1", "d:job-2"]);
}

#[tokio::test]
async fn a_disabled_schedule_creates_nothing_until_enabled() {
    let f = fixture().await;
    let c = f.start;
    f.create(json!({"id": "x", "schedule": {"doNotRunUntil": at(c + Duration::minutes(10)), "recurrenceInterval": "PT1H"}, "jobSpecification": spec()})).await;
    let r = f.emu.client.send_raw(Method::POST, "/jobschedules/x/disable", &[], &[], None).await.unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(f.schedule("x").await["state"], "disabled");
    f.clock.advance(Duration::minutes(20));
    f.emu.idle().await;
    assert!(f.jobs("x").await.is_empty());
    let r = f.emu.client.send_raw(Method::POST, "/jobschedules/x/enable", &[], &[], None).await.unwrap();
    assert_eq!(r.status, 204);
    // The due time (c+10m) is still inside its window (the interval): the job comes now.
    f.advance_until_jobs(Duration::ZERO, "x", &["x:job-1"]).await;
    let s = f.schedule("x").await;
    assert_eq!((s["state"].as_str(), s["previousState"].as_str()), (Some("active"), Some("disabled")));
}

#[tokio::test]
async fn terminating_a_schedule_terminates_its_job_and_deleting_it_deletes_its_jobs() {
    let f = fixture().await;
    f.create(json!({"id": "t", "schedule": {"recurrenceInterval": "PT1H"}, "jobSpecification": spec()})).await;
    f.emu.task("t:job-1", "work", "hang").await;
    let r = f.emu.client.send_raw(Method::POST, "/jobschedules/t/terminate", &[], &[], None).await.unwrap();
    assert_eq!(r.status, 202);
    let s = f.state_becomes("t", "completed").await;
    assert!(s["executionInfo"]["endTime"].is_string());
    let j = f.job("t:job-1").await;
    assert_eq!((j["state"].as_str(), j["executionInfo"]["terminateReason"].as_str()), (Some("completed"), Some("TerminateJobSchedule")));
    assert_batch_error(f.emu.client.send_raw(Method::POST, "/jobschedules/t/disable", &[], &[], None).await, 409, "JobScheduleCompleted");

    let r = f.emu.client.send_raw(Method::DELETE, "/jobschedules/t", &[], &[], None).await.unwrap();
    assert_eq!(r.status, 202);
    for _ in 0..4000 {
        if f.emu.client.send_raw(Method::HEAD, "/jobschedules/t", &[], &[], None).await.is_err() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_batch_error(f.emu.client.get_json::<Value>("/jobschedules/t", &[]).await, 404, "JobScheduleNotFound");
    assert_batch_error(f.emu.client.get_json::<Value>("/jobs/t%3Ajob-1", &[]).await, 404, "JobNotFound");
}

#[tokio::test]
async fn schedules_are_listed_patched_replaced_and_refused_as_batch_refuses_them() {
    let f = fixture().await;
    let c = f.start;
    let later = at(c + Duration::days(1));
    f.create(json!({"id": "s", "schedule": {"doNotRunUntil": later, "recurrenceInterval": "P1D"}, "jobSpecification": spec(), "metadata": [{"name": "a", "value": "1"}]})).await;
    let r = f.emu.client.send_raw(Method::HEAD, "/jobschedules/s", &[], &[], None).await.unwrap();
    assert_eq!(r.status, 200);
    let all: Vec<Value> = f.emu.client.list_all("/jobschedules", &[("$filter", "state eq 'active'"), ("$select", "id,state")]).await.unwrap();
    assert_eq!(all, vec![json!({"id": "s", "state": "active"})]);

    // PATCH changes only what it names; a new schedule moves the next due time.
    let sooner = at(c + Duration::hours(2));
    f.emu.client.send_json(Method::PATCH, "/jobschedules/s", &json!({"schedule": {"doNotRunUntil": sooner, "recurrenceInterval": "PT6H"}})).await.unwrap();
    let s = f.schedule("s").await;
    assert_eq!(s["executionInfo"]["nextRunTime"], sooner);
    assert_eq!(s["metadata"][0]["name"], "a");
    // PUT replaces: metadata omitted is removed; schedule and jobSpecification are required.
    assert_batch_error(f.emu.client.send_json(Method::PUT, "/jobschedules/s", &json!({"jobSpecification": spec()})).await, 400, "MissingRequiredProperty");
    f.emu
        .client
        .send_json(
            Method::PUT,
            "/jobschedules/s",
            &json!({"schedule": {"doNotRunUntil": later}, "jobSpecification": {"poolInfo": {"poolId": "p"}, "priority": 5}}),
        )
        .await
        .unwrap();
    let s = f.schedule("s").await;
    assert!(s.get("metadata").is_none(), "{s}");
    assert_eq!(s["jobSpecification"]["priority"], 5);

    let dup = |body: Value| {
        let client = f.emu.client.clone();
        async move { client.send_json(Method::POST, "/jobschedules", &body).await }
    };
    assert_batch_error(dup(json!({"id": "S", "schedule": {}, "jobSpecification": spec()})).await, 409, "JobScheduleExists");
    f.emu.job("plainjob", "p").await;
    assert_batch_error(dup(json!({"id": "plainjob", "schedule": {}, "jobSpecification": spec()})).await, 409, "JobWithSameIdExists");
    assert_batch_error(f.emu.client.create_job(&job_spec("s", "p")).await, 409, "JobScheduleWithSameIdExists");
    assert_batch_error(dup(json!({"id": "n1", "jobSpecification": spec()})).await, 400, "MissingRequiredProperty");
    assert_batch_error(dup(json!({"id": "n2", "schedule": {}})).await, 400, "MissingRequiredProperty");
    let e = assert_batch_error(
        dup(json!({"id": "n3", "schedule": {"recurrenceInterval": "PT30S"}, "jobSpecification": spec()})).await,
        400,
        "InvalidPropertyValue",
    );
    assert!(format!("{e:?}").contains("recurrenceInterval"), "{e:?}");
    assert_batch_error(dup(json!({"id": "n4", "schedule": {}, "jobSpecification": {}})).await, 400, "MissingRequiredProperty");
    assert_batch_error(f.emu.client.get_json::<Value>("/jobschedules/nope", &[]).await, 404, "JobScheduleNotFound");
    // Nothing refused was created.
    let all: Vec<Value> = f.emu.client.list_all("/jobschedules", &[]).await.unwrap();
    assert_eq!(all.len(), 1);
}
