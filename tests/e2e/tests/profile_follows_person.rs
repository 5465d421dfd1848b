//! A Pix profile that follows the person (issue 13, item 9), through the binary: a pupil
//! registered by their école's platform is linked to their collège's reference and moved to
//! the collège; one person, one profile, counted where they are now and, `asOf` before the
//! move, where they were; a reference that names someone else is refused with the log unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::Server;
use serde_json::{Value, json};

const ECOLE: &str = "0690026D";
const COLLEGE: &str = "0750655E";

const LINK: &str = "mutation($p: String!, $uai: String!, $source: String!, $id: String!) {
    linkExternalRef(person: $p, establishment: $uai, externalRef: {source: $source, id: $id}) { position } }";
const MOVE: &str =
    "mutation($p: String!, $to: String!) { movePerson(person: $p, to: $to) { position } }";
// `minPosition`: the read models fold the log after the write is acknowledged.
const BY_REF: &str = "query($source: String!, $id: String!, $uai: String, $min: Position) {
    personByExternalRef(source: $source, id: $id, establishment: $uai, minPosition: $min) { id } }";
const PERSON: &str = "query($id: String!, $asOf: AsOf) { person(id: $id, asOf: $asOf) {
    id establishment registeredEstablishment totalPix linkedRefs { source id establishment } } }";
const PERSONS: &str =
    "query($uai: String) { persons(establishment: $uai) { edges { node { id } } } }";

async fn establishment(server: &Server, uai: &str, academy: &str) {
    server
        .data(
            "mutation($uai: String!, $academy: String!) { registerEstablishment(input: {uai: $uai, name: \"Établissement\", kind: COLLEGE, academy: $academy, district: \"Centre\"}) { position } }",
            json!({ "uai": uai, "academy": academy }),
        )
        .await;
}

fn ids(persons: &Value) -> Vec<String> {
    persons["persons"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_pupil_keeps_one_profile_from_ecole_to_college() {
    let server = Server::start().await;
    establishment(&server, ECOLE, "Lyon").await;
    establishment(&server, COLLEGE, "Paris").await;
    let pupil = server.register(ECOLE, "ent-ecole", "p-1").await;
    let other = server.register(COLLEGE, "ent-college", "c-2").await;
    server
        .record(
            &pupil,
            &[
                ("1.1", "@a", true, 8.0),
                ("1.1", "@b", true, 8.0),
                ("1.1", "@c", true, 8.0),
            ],
        )
        .await;
    let pix = server.data(PERSON, json!({ "id": pupil })).await["person"]["totalPix"].clone();

    // The collège's platform knows the pupil as c-9: linked, then found by it, and
    // registering it at the collège returns the same person.
    let link = json!({ "p": pupil, "uai": COLLEGE, "source": "ent-college", "id": "c-9" });
    server.data(LINK, link.clone()).await;
    let head = server.head().await;
    server.data(LINK, link).await;
    assert_eq!(server.head().await, head, "linking again wrote");
    let found = server
        .data(
            BY_REF,
            json!({ "source": "ent-college", "id": "c-9", "uai": COLLEGE, "min": head }),
        )
        .await;
    assert_eq!(found["personByExternalRef"]["id"], pupil.as_str());
    assert_eq!(server.register(COLLEGE, "ent-college", "c-9").await, pupil);
    assert_eq!(
        server.head().await,
        head,
        "registering a linked reference wrote"
    );
    let read = server.data(PERSON, json!({ "id": pupil })).await;
    assert_eq!(
        read["person"]["linkedRefs"],
        json!([{ "source": "ent-college", "id": "c-9", "establishment": COLLEGE }])
    );

    // A reference that names someone else (linked or registered) is refused, nothing written.
    for (person, id) in [(&other, "c-9"), (&pupil, "c-2")] {
        let refused = server
            .graphql(
                LINK,
                json!({ "p": person, "uai": COLLEGE, "source": "ent-college", "id": id }),
            )
            .await;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "CONFLICT",
            "{refused}"
        );
        assert_eq!(server.head().await, head);
    }

    // The move: counted at the collège from now on, with the same profile.
    let moved = server
        .data(MOVE, json!({ "p": pupil, "to": COLLEGE }))
        .await["movePerson"]["position"]
        .as_u64()
        .unwrap();
    let now = server.data(PERSON, json!({ "id": pupil })).await;
    assert_eq!(now["person"]["establishment"], COLLEGE);
    assert_eq!(now["person"]["registeredEstablishment"], ECOLE);
    assert_eq!(now["person"]["totalPix"], pix);
    assert!(ids(&server.data(PERSONS, json!({ "uai": COLLEGE })).await).contains(&pupil));
    assert!(!ids(&server.data(PERSONS, json!({ "uai": ECOLE })).await).contains(&pupil));
    // As of before the move, at the école.
    let then = server
        .data(
            PERSON,
            json!({ "id": pupil, "asOf": { "position": moved - 1 } }),
        )
        .await;
    assert_eq!(then["person"]["establishment"], ECOLE);
    // Moving where they are writes nothing.
    let head = server.head().await;
    server
        .data(MOVE, json!({ "p": pupil, "to": COLLEGE }))
        .await;
    assert_eq!(server.head().await, head);

    // Dashboards count them where they are: Paris sees the pupil, Lyon no longer does.
    for (academy, sees) in [("Paris", true), ("Lyon", false)] {
        let created = server
            .data(
                "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
                json!({ "input": { "id": format!("dane-{}", academy.to_lowercase()), "name": "DANE", "role": "DASHBOARD", "academies": [academy] } }),
            )
            .await;
        let secret = created["createApiKey"]["secret"].as_str().unwrap();
        let (_, body) = server
            .graphql_as(secret, PERSON, json!({ "id": pupil }))
            .await;
        assert_eq!(
            body["data"]["person"].is_object(),
            sees,
            "{academy}: {body}"
        );
    }
}

#[tokio::test]
async fn a_registration_and_a_link_of_one_reference_sent_together_never_both_succeed() {
    let server = Server::start().await;
    establishment(&server, ECOLE, "Lyon").await;
    establishment(&server, COLLEGE, "Paris").await;
    let pupil = server.register(ECOLE, "ent-ecole", "p-race").await;
    for i in 0..20 {
        let id = format!("c-race-{i}");
        let link = json!({ "p": pupil, "uai": COLLEGE, "source": "ent-college", "id": id });
        let (linked, registered) = tokio::join!(
            server.graphql(LINK, link),
            server.graphql(
                "mutation($uai: String!, $id: String!) { registerPerson(input: {establishment: $uai, role: LEARNER, externalRef: {source: \"ent-college\", id: $id}}) { personId created } }",
                json!({ "uai": COLLEGE, "id": id }),
            )
        );
        let registered = &registered["data"]["registerPerson"];
        let person = registered["personId"].as_str().unwrap().to_owned();
        match linked.get("errors") {
            // The link won: the registration answers with the linked pupil, creating no one.
            None => {
                assert_eq!(person, pupil, "{i}: {linked} / {registered}");
                assert_eq!(registered["created"], false, "{i}");
            }
            // The registration won: the link is refused, and nobody else holds the reference.
            Some(errors) => {
                assert_eq!(errors[0]["extensions"]["code"], "CONFLICT", "{i}: {linked}");
                assert_ne!(person, pupil, "{i}");
            }
        }
        let head = server.head().await;
        let found = server
            .data(
                BY_REF,
                json!({ "source": "ent-college", "id": id, "uai": COLLEGE, "min": head }),
            )
            .await;
        assert_eq!(found["personByExternalRef"]["id"], person.as_str(), "{i}");
    }
}
