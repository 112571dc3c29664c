//! Burrow's HTTP notifier over a real store seeded with the kafka source's series: a stopped group
//! opens an incident (POST with the configured headers, basic auth and Burrow's body), is re-sent
//! every interval or once, a group below the threshold or denied is never sent, and when the group
//! commits again the close message (DELETE) carries the same id. Messages go over real HTTP to a
//! receiver on loopback; a receiver answering 500 is an error that keeps the incident open.

mod lag_support;

use kafkascope::config::Config;
use kafkascope::lag::notifier::Notifier;
use kafkascope::targets::TargetRegistry;
use lag_support::*;

fn notifier(text: &str) -> Notifier {
    let c = Config::parse(text, "notify.toml").unwrap_or_else(|e| panic!("{e}"));
    Notifier::new(c.notifiers[0].clone()).expect("notifier")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_group_opens_an_incident_that_closes_when_it_commits_again() {
    let env = start().await;
    let targets = TargetRegistry::default();
    targets.register(kafka_target(kafkascope::model::now_ms()));
    let (url, got) = receiver(200);
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "s3cret\n").unwrap();
    let mut n = notifier(&format!(
        "[[notifiers]]\nname = \"ops\"\nurl_open = \"{url}/open/{{{{cluster}}}}/{{{{group}}}}\"\nurl_close = \"{url}/close/{{{{id}}}}\"\nthreshold = \"ERR\"\ngroups_allow = [\"stopped\", \"steady\"]\nheaders = {{ \"X-Team\" = \"kafka\" }}\nusername = \"alert\"\npassword_file = {:?}\n",
        pass.display().to_string()
    ));

    let t = n.tick(&env.store, &targets).await;
    assert_eq!(t.opened, vec![format!("{CLUSTER}/stopped")], "{t:?}");
    assert!(t.errors.is_empty(), "{t:?}");
    let first = got.lock().unwrap()[0].clone();
    assert_eq!(first.method, "POST");
    assert_eq!(first.path, format!("/open/{CLUSTER}/stopped"));
    assert_eq!(first.header("x-team"), "kafka");
    // Basic auth of alert:s3cret.
    assert_eq!(first.header("authorization"), "Basic YWxlcnQ6czNjcmV0");
    assert_eq!(first.body["Group"], "stopped");
    assert_eq!(first.body["Status"], "ERR");
    assert_eq!(first.body["Result"]["partitions"][0]["status"], "STOP");
    let id = first.body["Id"].as_str().unwrap().to_string();

    // Not send_once: the open message again, same id; `steady` (OK) never.
    let t = n.tick(&env.store, &targets).await;
    assert_eq!(t.resent, vec![format!("{CLUSTER}/stopped")], "{t:?}");
    assert_eq!(got.lock().unwrap()[1].body["Id"], id.as_str());
    assert!(
        got.lock()
            .unwrap()
            .iter()
            .all(|g| g.body["Group"] != "steady")
    );

    // The group commits again, caught up: the incident closes with its id.
    let now = kafkascope::model::now_ms();
    env.store
        .write(
            &commit_samples("stopped", "stopped-topic", 0, (now, 400, 0)),
            &[],
        )
        .await
        .expect("write");
    let t = n.tick(&env.store, &targets).await;
    assert_eq!(t.closed, vec![format!("{CLUSTER}/stopped")], "{t:?}");
    let last = got.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.method, "DELETE");
    assert_eq!(last.path, format!("/close/{id}"));
    assert_eq!(last.body["Status"], "OK");
    // Closed: nothing more is sent.
    let before = got.lock().unwrap().len();
    let t = n.tick(&env.store, &targets).await;
    assert_eq!(t, Default::default());
    assert_eq!(got.lock().unwrap().len(), before);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_once_deny_lists_and_a_failing_receiver() {
    let env = start().await;
    let targets = TargetRegistry::default();
    targets.register(kafka_target(kafkascope::model::now_ms()));
    let (url, got) = receiver(200);
    let mut once = notifier(&format!(
        "[[notifiers]]\nname = \"once\"\nurl_open = \"{url}/o\"\nsend_once = true\ngroups_deny = [\"stopped\"]\n"
    ));
    let t = once.tick(&env.store, &targets).await;
    assert!(
        !t.opened.is_empty() && !t.opened.contains(&format!("{CLUSTER}/stopped")),
        "{t:?}"
    );
    let sent = got.lock().unwrap().len();
    assert_eq!(sent, t.opened.len());
    let t = once.tick(&env.store, &targets).await;
    assert!(t.opened.is_empty() && t.resent.is_empty(), "{t:?}");
    assert_eq!(got.lock().unwrap().len(), sent);

    // A receiver that fails: an error per group, retried at the next interval.
    let (bad, _) = receiver(500);
    let mut failing = notifier(&format!(
        "[[notifiers]]\nname = \"bad\"\nurl_open = \"{bad}/o\"\nthreshold = \"ERR\"\ngroups_allow = [\"stopped\"]\n"
    ));
    let t = failing.tick(&env.store, &targets).await;
    assert!(
        t.opened.is_empty() && t.errors.len() == 1 && t.errors[0].contains("HTTP 500"),
        "{t:?}"
    );
    let t = failing.tick(&env.store, &targets).await;
    assert_eq!(t.errors.len(), 1, "retried: {t:?}");
    env.stop().await;
}

/// `steady` stays 600 records = 60 s behind while committing: Burrow says WARN, under a notifier
/// whose threshold is ERR. An ERR threshold on lag in seconds below 60 s opens an incident for
/// it; one above does not (the control).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_on_lag_in_seconds_opens_an_incident_burrows_rules_would_not() {
    let env = start().await;
    let targets = TargetRegistry::default();
    targets.register(kafka_target(kafkascope::model::now_ms()));
    let (url, got) = receiver(200);
    let with = |limit: &str| {
        let c = Config::parse(
            &format!(
                "[lag]\n[[lag.thresholds]]\ngroups = \"^steady$\"\nmax_lag_seconds = \"{limit}\"\nstatus = \"ERR\"\n\n\
                 [[notifiers]]\nname = \"seconds\"\nurl_open = \"{url}/open\"\nthreshold = \"ERR\"\ngroups_allow = [\"^steady$\"]\n"
            ),
            "notify.toml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Notifier::new(c.notifiers[0].clone())
            .expect("notifier")
            .with_lag_settings(c.lag.settings().expect("lag settings"))
    };
    let t = with("5m").tick(&env.store, &targets).await;
    assert!(t.opened.is_empty(), "60 s is under 5 min: {t:?}");
    assert!(got.lock().unwrap().is_empty());

    let t = with("30s").tick(&env.store, &targets).await;
    assert_eq!(t.opened, vec![format!("{CLUSTER}/steady")], "{t:?}");
    let sent = got
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("an open message");
    assert_eq!(sent.body["Result"]["status"], "ERR", "{:?}", sent.body);
    let evidence = sent.body["Result"]["evidence"].to_string();
    assert!(
        evidence.contains("lag time 1 min > threshold 30 s"),
        "{evidence}"
    );
    env.stop().await;
}

#[test]
fn notifier_config_errors_name_the_key() {
    for (text, key) in [
        ("url_open = \"ftp://x\"\n", "notifiers[0].url_open"),
        (
            "url_open = \"http://x:80\"\nthreshold = \"STOP\"\n",
            "notifiers[0].threshold",
        ),
        (
            "url_open = \"http://x:80\"\ngroups_deny = [\"(\"]\n",
            "notifiers[0].groups_deny",
        ),
        (
            "url_open = \"http://x:80\"\nusername = \"u\"\n",
            "notifiers[0].username",
        ),
        (
            "url_open = \"http://x:80\"\nmethod_open = \"FETCH\"\n",
            "notifiers[0].method_open",
        ),
        (
            "url_open = \"http://x:80\"\ntemplate_open = \"/nonexistent/t.json\"\n",
            "notifiers[0].template_open",
        ),
        (
            "url_open = \"http://x:80\"\nurl = \"http://y:80\"\n",
            "notifiers",
        ),
        ("kind = \"sms\"\n", "notifiers[0].kind"),
        (
            "url_open = \"http://x:80\"\nserver = \"m\"\n",
            "notifiers[0].server",
        ),
        (
            "kind = \"email\"\nfrom = \"a@b\"\nto = \"c@d\"\ntls = \"none\"\n",
            "notifiers[0].server",
        ),
        (
            "kind = \"email\"\nserver = \"m\"\nfrom = \"a@b\"\nto = \"c@d\"\n",
            "notifiers[0].ca_file",
        ),
        (
            "kind = \"email\"\nserver = \"m\"\nfrom = \"a@b\"\nto = \" \"\ntls = \"none\"\n",
            "notifiers[0].to",
        ),
        (
            "kind = \"email\"\nserver = \"m\"\nfrom = \"a@b\"\nto = \"c@d\"\ntls = \"none\"\nurl_open = \"http://x:80\"\n",
            "notifiers[0].url_open",
        ),
        (
            "kind = \"email\"\nserver = \"m\"\nfrom = \"a@b\"\nto = \"c@d\"\ntls = \"none\"\nauth_type = \"login\"\nusername = \"u\"\npassword_file = \"/p\"\n",
            "notifiers[0].auth_type",
        ),
        (
            "kind = \"email\"\nserver = \"m\"\nfrom = \"a@b\"\nto = \"c@d\"\ntls = \"tls\"\n",
            "notifiers[0].tls",
        ),
        (
            "url_open = \"http://x:80/{{.Nope}}\"\n",
            "notifiers[0].url_open",
        ),
    ] {
        let e = Config::parse(&format!("[[notifiers]]\nname = \"n\"\n{text}"), "t.toml")
            .err()
            .unwrap_or_else(|| panic!("accepted: {text}"))
            .to_string();
        assert!(e.contains(key), "{text}: {e}");
    }
    assert!(
        Config::parse(
            "[[notifiers]]\nname = \"n\"\nurl_open = \"http://x:80/{{group}}\"\n",
            "t.toml"
        )
        .is_ok()
    );
    // Positive controls: an email notifier in clear and the templated URL of Burrow's data.
    for ok in [
        "kind = \"email\"\nserver = \"m\"\nfrom = \"a@b\"\nto = \"c@d, e@f\"\ntls = \"none\"\nauth_type = \"crammd5\"\nusername = \"u\"\npassword_file = \"/p\"\n",
        "url_open = \"http://x:80/{{.Result.Group}}/{{.ID}}\"\n",
    ] {
        if let Err(e) = Config::parse(&format!("[[notifiers]]\nname = \"n\"\n{ok}"), "t.toml") {
            panic!("{ok}: {e}");
        }
    }
}
