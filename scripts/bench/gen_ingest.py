#!/usr/bin/env python3
"""Writes an NDJSON bulk sync for POST /ingest: for each person id in IDS.lua (from
seed_persons.py), one line with ELEMENTS knowledge elements. Usage: gen_ingest.py IDS.lua ELEMENTS OUT"""
import json
import re
import sys

ids = re.findall(r'"([0-9a-f-]{36})"', open(sys.argv[1]).read())
per, out = int(sys.argv[2]), sys.argv[3]
competences = ["1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "3.4",
               "4.1", "4.2", "4.3", "5.1", "5.2"]
with open(out, "w") as f:
    for n, pid in enumerate(ids):
        elements = [{"competence": competences[(n + k) % 16], "skill": f"@i{competences[(n + k) % 16]}-{k}",
                     "status": "VALIDATED", "earnedPix": 1.25} for k in range(per)]
        f.write(json.dumps({"person": pid, "source": {"kind": "CAMPAIGN", "campaignCode": "BULK"},
                            "elements": elements}) + "\n")
