package fs

import (
	"math"
	"testing"
)

func TestJaroWinklerKnownValues(t *testing.T) {
	// Reference values from Winkler (1990) and the usual test pairs.
	tests := []struct {
		a, b string
		want float64
	}{
		{"MARTHA", "MARHTA", 0.9611},
		{"DWAYNE", "DUANE", 0.8400},
		{"DIXON", "DICKSONX", 0.8133},
		{"abc", "abc", 1},
		{"abc", "xyz", 0},
		{"José", "Jose", 0.8833}, // by character; DuckDB's byte-wise value is 0.848
	}
	for _, tt := range tests {
		if got := JaroWinkler(tt.a, tt.b); math.Abs(got-tt.want) > 1e-4 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f, want %.4f", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestLevenshteinAndJaccard(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"kitten", "sitting", 3}, {"", "abc", 3}, {"é", "e", 1}, {"same", "same", 0}} {
		if got := Levenshtein(tt.a, tt.b); got != tt.want {
			t.Errorf("Levenshtein(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	if got := Jaccard("acme trading ltd", "acme ltd"); math.Abs(got-2.0/3) > 1e-12 {
		t.Errorf("Jaccard = %v, want 2/3", got)
	}
}

func TestLevelOfPresets(t *testing.T) {
	name, dob, email, postcode := NameComparison("n"), DateOfBirthComparison("d"), EmailComparison("e"), PostcodeComparison("p")
	tests := []struct {
		c    Comparison
		a, b string
		want string
	}{
		{name, "Robert", "Robert", "exact"},
		{name, "Allen", "Alen", "Jaro-Winkler ≥ 0.92"},
		{name, "", "Robert", "null"},
		{name, "  ", "  ", "null"}, // two blanks are two unknowns, never agreement
		{name, "Robert", "Zoe", "else"},
		{dob, "1971-06-24", "1971-06-24", "exact"},
		{dob, "1971-06-24", "1971-05-24", "one character apart"},
		{dob, "1971-06-24", "1971-07-20", "within 31 days"},
		{dob, "1971-06-24", "1972-03-01", "within 365 days"},
		{dob, "1971-06-24", "1990-01-01", "else"},
		// The text standardiser's and the digits standardiser's forms of a
		// date are dates too (historical_50k's dob is standardised as text).
		{dob, "1630 08 01", "1630 08 24", "within 31 days"},
		{dob, "16300801", "1630-09-21", "within 365 days"},
		{dob, "1852 83 26", "1852 08 26", "else"}, // month 83 is no date
		{dob, "1630 08-01", "1630-08-02", "else"}, // mixed separators: not a date
		{dob, "163008011", "163008122", "else"},   // nine digits: not a date
		{email, "rob@smith.net", "rob@smith.net", "exact"},
		{email, "rob@smith.net", "rob@gmail.com", "same local part"},
		{email, "robert255@smith.net", "roberta25@smith.net", "Jaro-Winkler ≥ 0.88"},
		{email, "rob", "bob", "else"}, // no '@': no local part to agree on
		{postcode, "SW1A 1AA", "SW1A1AA", "same sector"},
		{postcode, "SW1A 1AA", "SW1A 2BB", "same district"},
		{postcode, "SW1A 1AA", "SW19 2AB", "same area"},
		{postcode, "SW1A 1AA", "SE1 9GF", "else"},
		{postcode, "SW1A 1AA", "M1 1AE", "else"},
	}
	for _, tt := range tests {
		got := tt.c.Levels[tt.c.LevelOf(tt.a, tt.b)].Label
		if got != tt.want {
			t.Errorf("%s: LevelOf(%q, %q) = %q, want %q", tt.c.Name, tt.a, tt.b, got, tt.want)
		}
	}
}

func TestCompareBuildsVector(t *testing.T) {
	m := New(NameComparison("first_name"), DateComparison("dob"))
	v := m.Compare(map[string]string{"first_name": "Robert", "dob": "1971-06-24"}, map[string]string{"first_name": "Rob"})
	if v[1] != 0 {
		t.Errorf("dob missing on one side: level %d, want the null level 0", v[1])
	}
	if m.Weight(v) != m.Weight(Vector{v[0], 0}) || m.LevelWeight(1, 0) != 0 {
		t.Error("a null comparison changed the weight")
	}
}
