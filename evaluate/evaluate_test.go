package evaluate

import (
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/knit-cdp/knit"
)

func TestPairwiseHandChecked(t *testing.T) {
	tests := []struct {
		name             string
		truth, predicted map[string]string
		want             Result
	}{
		{
			// truth {a,b,c}{d}; predicted {a,b}{c,d}.
			// true pairs ab ac bc = 3; predicted ab cd = 2; both: ab = 1.
			// precision 1/2, recall 1/3, F1 = 2·(1/6)/(5/6) = 2/5.
			// {a,b,c} is split over two clusters; {d} shares its cluster
			// with c, so no entity is exact; {c,d} is over-merged.
			name:      "split and over-merge",
			truth:     map[string]string{"a": "E1", "b": "E1", "c": "E1", "d": "E2"},
			predicted: map[string]string{"a": "P1", "b": "P1", "c": "P2", "d": "P2"},
			want: Result{Records: 4, TruePairs: 3, PredictedPairs: 2, TruePositives: 1,
				Precision: 0.5, Recall: 1.0 / 3, F1: 0.4,
				TrueClusters: 2, PredictedClusters: 2, ExactClusters: 0, SplitEntities: 1, OverMerged: 1},
		},
		{
			// x is not in the truth: ignored, so {a,b,x} counts as {a,b}.
			// e is missing from the run: a singleton, which is exactly its
			// entity. Every entity is exact: all figures perfect.
			name:      "missing and unknown records",
			truth:     map[string]string{"a": "E1", "b": "E1", "c": "E2", "e": "E3"},
			predicted: map[string]string{"a": "P1", "b": "P1", "x": "P1", "c": "P2"},
			want: Result{Records: 4, Missing: 1, Ignored: 1, TruePairs: 1, PredictedPairs: 1, TruePositives: 1,
				Precision: 1, Recall: 1, F1: 1,
				TrueClusters: 3, PredictedClusters: 3, ExactClusters: 3},
		},
		{
			// Nothing linked: no wrong link (precision 1), nothing found
			// (recall 0), F1 0; the entity {a,b} is split in two.
			name:      "no links",
			truth:     map[string]string{"a": "E1", "b": "E1"},
			predicted: map[string]string{},
			want: Result{Records: 2, Missing: 2, TruePairs: 1, Precision: 1, Recall: 0, F1: 0,
				TrueClusters: 1, PredictedClusters: 2, SplitEntities: 1},
		},
		{
			// Everything in one cluster: 6 predicted pairs, 1 true.
			name:      "all merged",
			truth:     map[string]string{"a": "E1", "b": "E1", "c": "E2", "d": "E3"},
			predicted: map[string]string{"a": "P", "b": "P", "c": "P", "d": "P"},
			want: Result{Records: 4, TruePairs: 1, PredictedPairs: 6, TruePositives: 1,
				Precision: 1.0 / 6, Recall: 1, F1: 2.0 / 7,
				TrueClusters: 3, PredictedClusters: 1, OverMerged: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Pairwise(tt.truth, tt.predicted)
			if !approxEqual(got, tt.want) {
				t.Errorf("Pairwise =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// approxEqual compares results, the ratios to 1e-12.
func approxEqual(a, b Result) bool {
	for _, p := range [][2]float64{{a.Precision, b.Precision}, {a.Recall, b.Recall}, {a.F1, b.F1}} {
		if math.Abs(p[0]-p[1]) > 1e-12 {
			return false
		}
	}
	a.Precision, a.Recall, a.F1 = b.Precision, b.Recall, b.F1
	return a == b
}

// TestPairwiseMatchesEnumeration checks the combinatorial counts against
// brute-force enumeration of every pair on random clusterings.
func TestPairwiseMatchesEnumeration(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for trial := range 20 {
		truth, predicted := map[string]string{}, map[string]string{}
		n := 50 + rng.Intn(250)
		keys := make([]string, n)
		for i := range n {
			keys[i] = "r" + strconv.Itoa(i)
			truth[keys[i]] = "e" + strconv.Itoa(rng.Intn(n/3+1))
			if rng.Float64() < 0.9 { // some records missing from the run
				predicted[keys[i]] = "p" + strconv.Itoa(rng.Intn(n/3+1))
			}
		}
		predicted["stray"] = "p0" // not in the truth
		var truePairs, predPairs, tp int64
		for i := range n {
			for j := i + 1; j < n; j++ {
				sameE := truth[keys[i]] == truth[keys[j]]
				pi, okI := predicted[keys[i]]
				pj, okJ := predicted[keys[j]]
				sameP := okI && okJ && pi == pj
				if sameE {
					truePairs++
				}
				if sameP {
					predPairs++
				}
				if sameE && sameP {
					tp++
				}
			}
		}
		r := Pairwise(truth, predicted)
		if r.TruePairs != truePairs || r.PredictedPairs != predPairs || r.TruePositives != tp {
			t.Fatalf("trial %d: pairs %d/%d/%d, enumeration gives %d/%d/%d", trial,
				r.TruePairs, r.PredictedPairs, r.TruePositives, truePairs, predPairs, tp)
		}
	}
}

func TestLoadTruthFake1000(t *testing.T) {
	const path = "/work/shared/data/splink_fake_1000/fake_1000.csv"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("dataset not on this machine: %v", err)
	}
	truth, err := LoadTruth(path, "unique_id", "cluster")
	if err != nil {
		t.Fatal(err)
	}
	if len(truth) != 1000 {
		t.Errorf("%d records, want 1000", len(truth))
	}
	// The truth against itself: every pair found, every entity exact.
	r := Pairwise(truth, truth)
	if r.TruePairs != 2031 {
		t.Errorf("true pairs = %d, want 2031", r.TruePairs)
	}
	if r.F1 != 1 || r.ExactClusters != r.TrueClusters || r.SplitEntities != 0 || r.OverMerged != 0 {
		t.Errorf("truth against itself is not perfect:\n%s", r)
	}
}

func TestLoadTruthErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, content, want string }{
		{"missing column", "id,entity\n1,a\n", `:1: no column "cluster"; the columns are id, entity`},
		{"conflict", "id,cluster\n1,a\n2,b\n1,c\n", `:4: record "1" is in entity "c" here but in "a" on line 2`},
		{"empty key", "id,cluster\n1,a\n,b\n", `:3: empty id`},
		{"empty entity", "id,cluster\n1,\n", `:2: record "1" has an empty cluster`},
		{"bad csv", "id,cluster\n1,a\n2,\"b\n", `:3:`},
		{"empty file", "", "the file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".csv")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadTruth(path, "id", "cluster")
			if knit.ErrorCode(err) != knit.EINVALID || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want EINVALID containing %q", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %v does not name the file", err)
			}
		})
	}
	if _, err := LoadTruth(filepath.Join(dir, "nope.csv"), "id", "cluster"); knit.ErrorCode(err) != knit.ENOTFOUND {
		t.Errorf("missing file: %v, want not_found", err)
	}
	// A repeated key with the same entity and a semicolon-separated file.
	path := filepath.Join(dir, "semi.csv")
	os.WriteFile(path, []byte("id;cluster\n1;a\n1;a\n2;a\n"), 0o644)
	truth, err := LoadTruth(path, "id", "cluster", WithDelimiter(';'))
	if err != nil || len(truth) != 2 || truth["2"] != "a" {
		t.Errorf("LoadTruth(semi) = %v, %v", truth, err)
	}
}

func TestResultString(t *testing.T) {
	s := Pairwise(map[string]string{"a": "1", "b": "1"}, map[string]string{"a": "x", "b": "x"}).String()
	for _, want := range []string{"precision", "1.0000", "entities exact", "over-merged"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}
}

// BenchmarkPairwise1M scores a million records (the O(n) claim).
func BenchmarkPairwise1M(b *testing.B) {
	truth, predicted := map[string]string{}, map[string]string{}
	for i := range 1_000_000 {
		k := strconv.Itoa(i)
		truth[k] = strconv.Itoa(i / 3)
		predicted[k] = strconv.Itoa(i / 4)
	}
	b.ResetTimer()
	for b.Loop() {
		Pairwise(truth, predicted)
	}
}
