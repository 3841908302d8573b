package standardize

import "testing"

var benchText = []string{"  Jane   DOE ", "José García-Márquez", "12 North Main Street, Apt #4", "Łukasz Żółć"}

func BenchmarkText(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		Text(benchText[i%len(benchText)])
	}
}

func BenchmarkEmail(b *testing.B) {
	for b.Loop() {
		Email("Jane.Doe+news@GoogleMail.com")
	}
}

// The three phone benchmarks show what the fast path saves: E.164 input and
// common North American formats skip the parser; other countries use it.
func BenchmarkPhone(b *testing.B) {
	for _, bench := range []struct{ name, number, region string }{
		{"E164", "+15035550100", "US"},
		{"USFormatted", "(503) 555-0100", "US"},
		{"ParserUK", "020 7946 0958", "GB"},
		{"ParserUSWithoutFastPath", "(503) 555-0100", ""},
	} {
		b.Run(bench.name, func(b *testing.B) {
			standardise := Phone
			if bench.region == "" {
				standardise = func(s, _ string) (string, bool) { return phoneSlow(s, "US") }
			}
			for b.Loop() {
				standardise(bench.number, bench.region)
			}
		})
	}
}

func BenchmarkName(b *testing.B) {
	for b.Loop() {
		Name("Smith Jr., Dr. Bob")
	}
}

func BenchmarkAddress(b *testing.B) {
	for b.Loop() {
		Address("12 North Main Street, Apt #4")
	}
}
