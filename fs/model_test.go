package fs

import (
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/knit-cdp/knit"
)

// handModel has round numbers so every weight below can be checked by hand.
func handModel() *Model {
	return &Model{
		Comparisons: []Comparison{
			{Name: "email", Field: "email", Levels: []Level{
				{Label: "null", Kind: KindNull},
				{Label: "exact", Kind: KindExact, M: 0.8, U: 0.1}, // log2 8 = +3
				{Label: "else", Kind: KindElse, M: 0.2, U: 0.9},
			}},
			{Name: "surname", Field: "surname", Levels: []Level{
				{Label: "null", Kind: KindNull},
				{Label: "exact", Kind: KindExact, TF: true, M: 0.5, U: 0.0625}, // log2 8 = +3
				{Label: "Jaro-Winkler ≥ 0.9", Kind: KindJaroWinkler, Threshold: 0.9, M: 0.3, U: 0.1375},
				{Label: "else", Kind: KindElse, M: 0.2, U: 0.8}, // log2 1/4 = −2
			}},
		},
		Prior:     0.2, // odds 1/4: log2 = −2
		Threshold: 0.9,
		TF:        map[string]map[string]float64{"surname": {"smith": 0.25, "linacre": 0.001}},
	}
}

func TestWeightAndProbabilityByHand(t *testing.T) {
	m := handModel()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		v          Vector
		weight     float64
		prob       float64
		why        string
		isLinkWant bool
	}{
		{Vector{1, 1}, 4, 16.0 / 17, "−2 prior +3 email +3 surname = 4; 2^4/(1+2^4)", true},
		{Vector{1, 3}, -1, 1.0 / 3, "−2 +3 −2 = −1; 0.5/1.5", false},
		{Vector{0, 3}, -4, 1.0 / 17, "null email adds nothing: −2 +0 −2", false},
		{Vector{0, 0}, -2, 0.2, "all null: the prior alone, λ = 0.2", false},
	}
	for _, tt := range tests {
		w := m.Weight(tt.v)
		if math.Abs(w-tt.weight) > 1e-12 {
			t.Errorf("Weight(%v) = %v, want %v (%s)", tt.v, w, tt.weight, tt.why)
		}
		if p := m.Probability(w); math.Abs(p-tt.prob) > 1e-12 {
			t.Errorf("Probability(%v) = %v, want %v (%s)", w, p, tt.prob, tt.why)
		}
		if got := m.IsLink(w); got != tt.isLinkWant {
			t.Errorf("IsLink(%v) = %v", w, got)
		}
	}
	// Extreme weights neither overflow nor lose the sign.
	if p := m.Probability(5000); p != 1 {
		t.Errorf("Probability(5000) = %v", p)
	}
	if p := m.Probability(-5000); p != 0 || math.IsNaN(p) {
		t.Errorf("Probability(-5000) = %v", p)
	}
}

func TestTermFrequencyAdjustment(t *testing.T) {
	m := handModel()
	v := Vector{2, 1} // email disagrees, surname agrees exactly
	rare := m.WeightTF(v, []string{"", "linacre"})
	common := m.WeightTF(v, []string{"", "smith"})
	unknown := m.WeightTF(v, []string{"", "okonkwo"})
	if !(rare > unknown && unknown > common) {
		t.Errorf("weights rare %.2f, unknown %.2f, common %.2f: want rare > unknown (uses u) > common", rare, unknown, common)
	}
	// surname exact on "smith": log2(0.5/0.25) = +1 instead of +3.
	if want := m.Weight(v) - 3 + 1; math.Abs(common-want) > 1e-12 {
		t.Errorf("WeightTF on smith = %v, want %v", common, want)
	}
	if unknown != m.Weight(v) {
		t.Errorf("a value missing from the TF table must fall back to u: %v vs %v", unknown, m.Weight(v))
	}
	// TF applies only at a TF level: a fuzzy agreement ignores it.
	if fuzzy := (Vector{2, 2}); m.WeightTF(fuzzy, []string{"", "linacre"}) != m.Weight(fuzzy) {
		t.Error("TF adjustment applied on a non-TF level")
	}
}

func TestExplain(t *testing.T) {
	m := handModel()
	e := m.Explain(Vector{0, 1}, []string{"", "linacre"})
	if len(e.Terms) != 3 {
		t.Fatalf("terms = %v, want prior + 2", e.Terms)
	}
	if e.Terms[1].Weight != 0 || e.Terms[1].Level != "null" {
		t.Errorf("null email term = %+v, want 0 bits", e.Terms[1])
	}
	if !e.Terms[2].TF || e.Terms[2].U != 0.001 {
		t.Errorf("surname term = %+v, want TF with u = 0.001", e.Terms[2])
	}
	sum := 0.0
	for _, term := range e.Terms {
		sum += term.Weight
	}
	if e.Weight != sum || e.Weight != m.WeightTF(Vector{0, 1}, []string{"", "linacre"}) {
		t.Errorf("explanation total %v, terms sum %v", e.Weight, sum)
	}
	if got, want := (Contribution{Comparison: "last_name", Level: "Jaro-Winkler ≥ 0.92", Weight: 6.1}).String(), "last_name Jaro-Winkler ≥ 0.92: +6.1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !strings.Contains(e.String(), "probability") {
		t.Errorf("explanation text lacks the probability:\n%s", e)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m := New(NameComparison("first_name"), DateOfBirthComparison("dob"), EmailComparison("email"), PostcodeComparison("postcode"))
	// Awkward numbers: a round trip must keep every bit.
	levels := m.Comparisons[0].Levels
	levels[4].M += levels[1].M - 1.0/3
	levels[1].M = 1.0 / 3
	m.Prior = 0.000123456789012345
	m.PriorEstimates = 2
	m.Comparisons[1].MEstimates = 3
	m.Comparisons[1].UEstimated = true
	m.TF = map[string]map[string]float64{"first_name": {"robert": 0.0123, "zoë": 1e-7}}
	m.Trained = time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	m.Notes = []string{"trained on 1000 records"}
	path := filepath.Join(t.TempDir(), FileName)
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip changed the model:\n got %+v\nwant %+v", got, m)
	}
	data, _ := os.ReadFile(path)
	for _, want := range []string{"# knit linkage model", "label: Jaro-Winkler ≥ 0.92 # ", "bits", "no evidence"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("model file lacks %q:\n%s", want, data)
		}
	}
	// Saving again gives the same bytes (stable, diffable).
	again, _ := got.MarshalYAMLFile()
	if string(again) != string(data) {
		t.Error("saving a loaded model changed the file")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yaml")); knit.ErrorCode(err) != knit.ENOTFOUND {
		t.Errorf("missing file: %v, want not_found", err)
	}
	tests := []struct{ name, content, want string }{
		{"unknown key", "comparisons: []\npriorr: 0.1\n", "line 2"},
		{"invalid", "comparisons: []\nprior: 2\nthreshold: 0.9\n", "prior = 2"},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name+".yaml")
		os.WriteFile(path, []byte(tt.content), 0o644)
		_, err := Load(path)
		if knit.ErrorCode(err) != knit.EINVALID || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want EINVALID naming %s and %q", tt.name, err, path, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(m *Model)
		want   string
	}{
		{"prior", func(m *Model) { m.Prior = 0 }, "prior = 0"},
		{"threshold", func(m *Model) { m.Threshold = 1 }, "threshold = 1"},
		{"duplicate name", func(m *Model) { m.Comparisons[1].Name = "email" }, "also used by comparison 0"},
		{"m zero", func(m *Model) { m.Comparisons[0].Levels[1].M = 0 }, "m = 0 must be in (0,1]"},
		{"u sum", func(m *Model) { m.Comparisons[0].Levels[1].U = 0.2 }, "u sums to 1.1"},
		{"null not first", func(m *Model) {
			l := m.Comparisons[0].Levels
			l[0], l[1] = l[1], l[0]
		}, "null level must come first"},
		{"no else", func(m *Model) { m.Comparisons[0].Levels[2].Kind = KindExact }, "must be kind else"},
		{"unreachable", func(m *Model) { m.Comparisons[1].Levels[2].Kind = KindExact }, "can never hold"},
		{"loose before tight", func(m *Model) {
			m.Comparisons[1].Levels[1] = Level{Label: "jw 0.8", Kind: KindJaroWinkler, Threshold: 0.8, M: 0.5, U: 0.0625}
		}, "level 2 (\"Jaro-Winkler ≥ 0.9\"): can never hold"},
		{"kind", func(m *Model) { m.Comparisons[0].Levels[1].Kind = "soundex" }, "unknown kind \"soundex\""},
		{"tf on fuzzy", func(m *Model) { m.Comparisons[1].Levels[2].TF = true }, "tf is allowed only"},
		{"tf freq", func(m *Model) { m.TF["surname"]["x"] = 2 }, "relative frequency"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := handModel()
			tt.break_(m)
			err := m.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	for _, c := range []Comparison{
		NameComparison("n"), JaroWinklerComparison("j", 0.8, 0.95), LevenshteinComparison("l", 2, 1),
		ExactComparison("e", true), DateComparison("d"), DateOfBirthComparison("dob"),
		EmailComparison("em"), PostcodeComparison("pc"), NumericComparison("x", 10, 1),
	} {
		if err := New(c).Validate(); err != nil {
			t.Errorf("preset %s is invalid: %v", c.Name, err)
		}
	}
}
