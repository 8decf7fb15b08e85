//! A change to a flow reaches the webhook at once, through LISTEN/NOTIFY.

use std::future::Future;
use std::time::Duration;

use ivrhub::flow::model::{Hangup, Node, NodeKind};
use ivrhub::voicenter::types::{Action, Encoding, IvrAnswer};

use crate::harness::TestApp;
use crate::voicenter_client::Call;

/// Asks again (for up to 5 s) until the answer satisfies `done`; returns the last answer.
pub async fn eventually<F, Fut>(mut ask: F, done: impl Fn(&IvrAnswer) -> bool) -> IvrAnswer
where
    F: FnMut() -> Fut,
    Fut: Future<Output = IvrAnswer>,
{
    let mut answer = ask().await;
    for _ in 0..250 {
        if done(&answer) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        answer = ask().await;
    }
    answer
}

#[tokio::test]
async fn the_next_step_follows_an_edit_of_the_flow() {
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    let call = Call::new(&app, Encoding::Json, "edited-flow-00000000000000000000001");
    let before = eventually(
        || call.step("-1", ""),
        |a| matches!(a.action, Action::Menu(_)),
    )
    .await;
    assert!(matches!(before.action, Action::Menu(_)));

    // Voicemail is replaced by a hang-up, mid-call.
    let replacement = Node {
        key: "voicemail".into(),
        language: None,
        kind: NodeKind::Hangup(Hangup {
            rec: Some("goodbye".into()),
            cause: Some(17),
        }),
    };
    ivrhub::flow_service::seed(
        &app.pool,
        tenant,
        &[replacement],
        &[],
        &[],
        None,
        "test edit",
    )
    .await
    .unwrap();
    let after = eventually(
        || call.step("main", "9"),
        |a| matches!(a.action, Action::Hangup(_)),
    )
    .await;
    assert!(
        matches!(after.action, Action::Hangup(ref h) if h.cause == Some(17)),
        "{after:?}"
    );
}

#[tokio::test]
async fn a_new_number_answers_as_soon_as_its_entry_is_published() {
    let app = TestApp::spawn().await;
    let tenant = app.with_demo().await;
    let mut call = Call::new(
        &app,
        Encoding::XmlRpc,
        "new-did-000000000000000000000000001",
    );
    call.did = "0731111111".into();
    assert!(matches!(
        call.step("-1", "").await.action,
        Action::Hangup(_)
    ));
    let entry = ivrhub::flow::model::EntryPoint::at("0731111111", "main");
    ivrhub::flow_service::seed(&app.pool, tenant, &[], &[], &[entry], None, "a new number")
        .await
        .unwrap();
    let answer = eventually(
        || call.step("-1", ""),
        |a| matches!(a.action, Action::Menu(_)),
    )
    .await;
    assert!(
        matches!(answer.action, Action::Menu(ref m) if m.menu == "main~v2"),
        "{answer:?}"
    );
}
