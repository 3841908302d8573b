package standardize

import (
	"strconv"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Text is the base standardiser that every text-like kind builds on. It
// trims; folds Unicode to ASCII (NFKD, combining marks dropped, letters that
// do not decompose transliterated: ß→ss, æ→ae, ø→o, ł→l, Cyrillic and Greek
// letter by letter); turns other scripts' decimal digits into 0-9; lowers
// case; deletes apostrophes (so "O'Brien" equals "OBrien"); turns every other
// symbol and punctuation mark into a space; and collapses runs of spaces.
// The output holds only a-z, 0-9 and single inner spaces, so Text is
// idempotent. A letter with no ASCII reading (Han, Arabic, …) is kept as
// "u" and its five-digit hex code point, so equal inputs stay equal without
// leaving ASCII. ok is false when nothing is left.
func Text(s string) (string, bool) {
	var stack [64]byte // short values build their output without allocating
	w := textWriter{buf: stack[:0]}
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			w.ascii(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		w.nonASCII(r)
	}
	return string(w.buf), len(w.buf) > 0
}

// textWriter accumulates Text's output; a separator is written lazily so
// leading, trailing and repeated separators vanish without a second pass.
type textWriter struct {
	buf        []byte
	pendingGap bool
	decomposed [32]byte // scratch for one rune's NFKD form, kept off the heap
	hexScratch [8]byte
}

func (w *textWriter) char(c byte) {
	if w.pendingGap && len(w.buf) > 0 {
		w.buf = append(w.buf, ' ')
	}
	w.pendingGap = false
	w.buf = append(w.buf, c)
}

func (w *textWriter) word(s string) {
	for i := 0; i < len(s); i++ {
		w.char(s[i])
	}
}

func (w *textWriter) ascii(c byte) {
	switch {
	case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		w.char(c)
	case 'A' <= c && c <= 'Z':
		w.char(c + 'a' - 'A')
	case c == '\'' || c == '`':
		// Apostrophes join: O'Brien, D'Angelo, don't.
	default:
		w.pendingGap = true
	}
}

// foldedRunes holds the ASCII form of every rune of the ranges below as
// nonASCII computes it, with " " where it leaves a gap: Latin, IPA, Greek
// and Cyrillic letters and general punctuation are most of the non-ASCII
// text knit sees, and normalising each rune afresh costs a microsecond.
var foldedRunes = func() map[rune]string {
	folded := map[rune]string{}
	for _, span := range [][2]rune{{0x80, 0x530}, {0x1e00, 0x2070}} {
		for r := span[0]; r < span[1]; r++ {
			w := textWriter{buf: []byte{'x'}} // a sentinel keeps a leading gap
			w.normalize(r)
			if w.pendingGap {
				w.buf = append(w.buf, ' ')
			}
			folded[r] = string(w.buf[1:])
		}
	}
	return folded
}()

func (w *textWriter) nonASCII(r rune) {
	if folded, ok := foldedRunes[r]; ok {
		for i := 0; i < len(folded); i++ {
			w.ascii(folded[i])
		}
		return
	}
	w.normalize(r)
}

func (w *textWriter) normalize(r rune) {
	if w.foldLetter(r) {
		return
	}
	// NFKD splits é into e + U+0301 and maps compatibility forms (ﬁ,
	// fullwidth Ａ, superscript ²) to their plain letters and digits.
	for _, d := range norm.NFKD.String(string(r)) {
		w.decomposedRune(d)
	}
}

func (w *textWriter) decomposedRune(d rune) {
	switch {
	case d < utf8.RuneSelf:
		w.ascii(byte(d))
	case unicode.Is(unicode.Mn, d) || unicode.Is(unicode.Me, d):
		// Combining accents carry no identity here: José ≡ Jose.
	case w.foldLetter(d):
	case unicode.Is(unicode.Nd, d):
		w.char(byte('0' + decimalValue(d)))
	case unicode.IsLetter(d):
		w.hexLetter(d)
	default:
		w.pendingGap = true
	}
}

// foldLetter writes the ASCII transliteration of r if the table has one.
func (w *textWriter) foldLetter(r rune) bool {
	if isApostrophe(r) {
		return true
	}
	folded, ok := transliterations[unicode.ToLower(r)]
	if ok {
		w.word(folded)
	}
	return ok
}

func (w *textWriter) hexLetter(r rune) {
	w.char('u')
	digits := strconv.FormatInt(int64(r), 16)
	for pad := len(digits); pad < 5; pad++ {
		w.char('0')
	}
	w.word(digits)
}

func isApostrophe(r rune) bool {
	switch r {
	case '\u2019', '\u2018', '\u02bc', '\u02b9', '\u00b4', '\u2032':
		return true
	}
	return false
}

// decimalValue returns the value of a decimal digit of any script. Unicode
// assigns every script's digits 0-9 to ten consecutive code points, and
// blocks of several digit sets are consecutive runs of ten, so the value is
// the distance from the start of the run of Nd code points, modulo ten.
func decimalValue(r rune) int {
	start := r
	for unicode.Is(unicode.Nd, start-1) {
		start--
	}
	return int(r-start) % 10
}

// transliterations maps lower-case letters that NFKD leaves alone (or that
// belong to other alphabets) to ASCII. Common Latin letters first, then
// Greek and Cyrillic, which appear in customer names often enough to matter.
var transliterations = map[rune]string{
	'ß': "ss", 'æ': "ae", 'ø': "o", 'œ': "oe", 'ł': "l", 'đ': "d", 'ð': "d",
	'þ': "th", 'ħ': "h", 'ı': "i", 'ĳ': "ij", 'ŀ': "l", 'ŉ': "n", 'ŋ': "ng",
	'ſ': "s", 'ŧ': "t", 'ƒ': "f", 'ə': "e", 'ɛ': "e", 'ɔ': "o", 'ʒ': "z",
	'ĸ': "k", 'ƚ': "l", 'ɨ': "i", 'ʉ': "u", 'ȥ': "z",
	// Greek
	'α': "a", 'β': "v", 'γ': "g", 'δ': "d", 'ε': "e", 'ζ': "z", 'η': "i",
	'θ': "th", 'ι': "i", 'κ': "k", 'λ': "l", 'μ': "m", 'ν': "n", 'ξ': "x",
	'ο': "o", 'π': "p", 'ρ': "r", 'σ': "s", 'ς': "s", 'τ': "t", 'υ': "y",
	'φ': "f", 'χ': "ch", 'ψ': "ps", 'ω': "o",
	// Cyrillic (Russian, Ukrainian, Belarusian, Serbian letters)
	'а': "a", 'б': "b", 'в': "v", 'г': "g", 'д': "d", 'е': "e", 'ё': "e",
	'ж': "zh", 'з': "z", 'и': "i", 'й': "i", 'к': "k", 'л': "l", 'м': "m",
	'н': "n", 'о': "o", 'п': "p", 'р': "r", 'с': "s", 'т': "t", 'у': "u",
	'ф': "f", 'х': "kh", 'ц': "ts", 'ч': "ch", 'ш': "sh", 'щ': "shch",
	'ъ': "", 'ы': "y", 'ь': "", 'э': "e", 'ю': "iu", 'я': "ia",
	'є': "ie", 'і': "i", 'ї': "i", 'ґ': "g", 'ў': "u", 'ђ': "dj", 'ј': "j",
	'љ': "lj", 'њ': "nj", 'ћ': "c", 'џ': "dz",
}
