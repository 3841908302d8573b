package similarity

import "testing"

// Pairs typical of blocked candidate comparisons: short names and an
// address line, one non-ASCII.
var benchPairs = [][2]string{
	{"jonathan smith", "jonathon smyth"},
	{"12 n main st unit 4", "12 north main st apt 4"},
	{"łukasz nowak", "lukasz nowak"},
}

func BenchmarkEditSimilarity(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		p := benchPairs[i%len(benchPairs)]
		EditSimilarity(p[0], p[1])
	}
}

func BenchmarkJaroWinkler(b *testing.B) {
	for i := 0; b.Loop(); i++ {
		p := benchPairs[i%len(benchPairs)]
		JaroWinkler(p[0], p[1])
	}
}

func BenchmarkTokenSimilarity(b *testing.B) {
	c := coffeeCorpus()
	for b.Loop() {
		c.TokenSimilarity("Zebra Coffee Roasters", "Zebra Coffee Roastery")
	}
}
