#!/usr/bin/env python3
"""Seeds a running palier with N persons (each with a few knowledge elements) over GraphQL and
writes their ids as a Lua table for wrk. Usage: seed_persons.py URL TOKEN N OUT.lua"""
import json
import random
import sys
import urllib.request

url, token, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
competences = ["1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "3.4",
               "4.1", "4.2", "4.3", "5.1", "5.2"]


def gql(query, variables):
    req = urllib.request.Request(url, data=json.dumps({"query": query, "variables": variables}).encode(),
                                 headers={"content-type": "application/json",
                                          "authorization": "Bearer " + token})
    with urllib.request.urlopen(req) as res:
        body = json.loads(res.read())
    if "errors" in body:
        raise SystemExit(f"GraphQL errors: {body['errors']}")
    return body["data"]


random.seed(7)
ids = []
for i in range(n):
    data = gql("mutation($i: RegisterPersonInput!) { registerPerson(input: $i) { personId } }",
               {"i": {"establishment": "0750655E", "role": "LEARNER",
                      "externalRef": {"source": "bench", "id": f"p{i}"}}})
    pid = data["registerPerson"]["personId"]
    elements = [{"competence": c, "skill": f"@{c}-{k}", "status": "VALIDATED",
                 "earnedPix": round(random.uniform(0.5, 6.0), 2)}
                for c in random.sample(competences, 6) for k in range(3)]
    gql("mutation($i: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $i) { position } }",
        {"i": {"person": pid, "source": {"kind": "CAMPAIGN"}, "elements": elements}})
    ids.append(pid)

with open(out, "w") as f:
    f.write("ids = {" + ",".join(f'"{i}"' for i in ids) + "}\n")
