package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/knit-cdp/knit/evaluate"
)

// TestEvaluateTinyCaseByHand runs knit evaluate on a project small enough
// to check by hand. Email links a1–b1 and a3–b3; the truth (pairs, '|'
// separated) says a1–b1 and a2–b2 match. So:
//
//	true pairs {a1b1, a2b2}, predicted pairs {a1b1, a3b3}: TP 1,
//	precision 1/2, recall 1/2, F1 1/2;
//	true entities {a1,b1} {a2,b2} {a3} {b3}: only {a1,b1} is predicted
//	exactly, {a2,b2} is split, and the cluster {a3,b3} is over-merged.
func TestEvaluateTinyCaseByHand(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"knit.yaml": `sources:
  a: {file: a.csv, primary_key: id, identifiers: {email: email}}
  b: {file: b.csv, primary_key: id, identifiers: {email: email}}
`,
		"a.csv":      "id,email\n1,x@example.com\n2,y@example.com\n3,z@example.com\n",
		"b.csv":      "id,email\n1,x@example.com\n2,w@example.com\n3,z@example.com\n",
		"gt.csv":     "D1|D2\n1|1\n2|2\n",
		"truth.yaml": "pairs:\n  - {file: gt.csv, delimiter: '|', left_source: a, left: D1, right_source: b, right: D2}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustKnit(t, "run", "-q", dir)
	var got evaluate.Result
	res := mustKnit(t, "evaluate", "--json", dir)
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("evaluate --json: %v\n%s", err, res.stdout)
	}
	want := evaluate.Result{
		Records:   6,
		TruePairs: 2, PredictedPairs: 2, TruePositives: 1,
		Precision: 0.5, Recall: 0.5, F1: 0.5,
		TrueClusters: 4, PredictedClusters: 4,
		ExactClusters: 1, SplitEntities: 1, OverMerged: 1,
	}
	if got != want {
		t.Errorf("evaluate:\n got %+v\nwant %+v", got, want)
	}
}
