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
	dir := tinyEvaluateProject(t, "pairs:\n  - {file: gt.csv, delimiter: '|', left_source: a, left: D1, right_source: b, right: D2}\n")
	if got := evaluateJSON(t, dir); got != tinyCaseWant {
		t.Errorf("evaluate:\n got %+v\nwant %+v", got, tinyCaseWant)
	}
}

// TestEvaluateTruthAtAbsolutePath: a truth file named by an absolute path,
// in truth.yaml or with --truth, is read from there, not from below the
// project folder or the working directory.
func TestEvaluateTruthAtAbsolutePath(t *testing.T) {
	elsewhere := t.TempDir()
	gt := filepath.Join(elsewhere, "gt.csv")
	if err := os.WriteFile(gt, []byte("D1|D2\n1|1\n2|2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := tinyEvaluateProject(t, "pairs:\n  - {file: "+gt+", delimiter: '|', left_source: a, left: D1, right_source: b, right: D2}\n")
	if got := evaluateJSON(t, dir); got != tinyCaseWant {
		t.Errorf("truth.yaml naming %s:\n got %+v\nwant %+v", gt, got, tinyCaseWant)
	}

	// The same truth as record key → entity: a1,b1 are e1; a2,b2 are e2.
	entities := filepath.Join(elsewhere, "entities.csv")
	if err := os.WriteFile(entities, []byte("key,entity\na/1,e1\nb/1,e1\na/2,e2\nb/2,e2\na/3,e3\nb/3,e4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := evaluateJSON(t, dir, "--truth", entities, "--key", "key", "--entity", "entity"); got != tinyCaseWant {
		t.Errorf("--truth %s:\n got %+v\nwant %+v", entities, got, tinyCaseWant)
	}
}

// tinyCaseWant is the hand-computed result of the tiny case.
var tinyCaseWant = evaluate.Result{
	Records:   6,
	TruePairs: 2, PredictedPairs: 2, TruePositives: 1,
	Precision: 0.5, Recall: 0.5, F1: 0.5,
	TrueClusters: 4, PredictedClusters: 4,
	ExactClusters: 1, SplitEntities: 1, OverMerged: 1,
}

// tinyEvaluateProject writes and runs the tiny case's project with the
// given truth.yaml; its pairs file gt.csv is in the project folder.
func tinyEvaluateProject(t *testing.T, truthYAML string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"knit.yaml": `sources:
  a: {file: a.csv, primary_key: id, identifiers: {email: email}}
  b: {file: b.csv, primary_key: id, identifiers: {email: email}}
`,
		"a.csv":      "id,email\n1,x@example.com\n2,y@example.com\n3,z@example.com\n",
		"b.csv":      "id,email\n1,x@example.com\n2,w@example.com\n3,z@example.com\n",
		"gt.csv":     "D1|D2\n1|1\n2|2\n",
		"truth.yaml": truthYAML,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustKnit(t, "run", "-q", dir)
	return dir
}

func evaluateJSON(t *testing.T, dir string, flags ...string) evaluate.Result {
	t.Helper()
	var got evaluate.Result
	res := mustKnit(t, append(append([]string{"evaluate", "--json"}, flags...), dir)...)
	if err := json.Unmarshal([]byte(res.stdout), &got); err != nil {
		t.Fatalf("evaluate --json: %v\n%s", err, res.stdout)
	}
	return got
}
