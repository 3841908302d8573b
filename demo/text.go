package demo

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// rng wraps a seeded PCG so that one seed yields one byte stream on every
// run of the same binary.
type rng struct{ *rand.Rand }

func newRNG(seed int64, stream uint64) rng {
	return rng{rand.New(rand.NewPCG(uint64(seed), stream))}
}

// chance reports true with probability p.
func (r rng) chance(p float64) bool { return p > 0 && r.Float64() < p }

// geometric returns a count ≥ 0 with the given mean: a long tail of heavy
// users and many light ones, like real purchase and visit counts.
func (r rng) geometric(mean float64) int {
	if mean <= 0 {
		return 0
	}
	p := 1 / (mean + 1)
	u := 1 - r.Float64() // (0,1]
	return int(math.Log(u) / math.Log1p(-p))
}

// pick returns a uniformly chosen element.
func pick[T any](r rng, xs []T) T { return xs[r.IntN(len(xs))] }

// zipf samples indexes 0..n-1 with weight 1/(rank+1)^s.
type zipf struct{ cum []float64 }

func newZipf(n int, s float64) zipf {
	cum := make([]float64, n)
	total := 0.0
	for i := range n {
		total += 1 / math.Pow(float64(i+1), s)
		cum[i] = total
	}
	for i := range cum {
		cum[i] /= total
	}
	return zipf{cum}
}

func (z zipf) sample(r rng) int {
	i := sort.SearchFloat64s(z.cum, r.Float64())
	if i >= len(z.cum) {
		i = len(z.cum) - 1
	}
	return i
}

// asciiFold maps the non-ASCII letters of the name lists to what people
// type in an email address (José → jose, Müller → muller, Łukasz → lukasz).
var asciiFold = strings.NewReplacer(
	"á", "a", "à", "a", "â", "a", "ä", "a", "å", "a", "Å", "A", "é", "e", "è", "e", "ê", "e", "ë", "e",
	"í", "i", "ï", "i", "ó", "o", "ö", "o", "ø", "o", "Ø", "O", "ú", "u", "ü", "u", "ñ", "n",
	"ç", "c", "ł", "l", "Ł", "L", "ś", "s", "ß", "ss", "Á", "A", "É", "E", "Ñ", "N", "ễ", "e",
	"'", "", " ", "",
)

// emailLocal builds the part before @ from a name in one of the ways people
// choose addresses.
func emailLocal(r rng, first, last string) string {
	f := strings.ToLower(asciiFold.Replace(first))
	l := strings.ToLower(asciiFold.Replace(last))
	switch r.IntN(8) {
	case 0, 1, 2:
		return f + "." + l
	case 3:
		return f + l
	case 4:
		return f[:1] + l
	case 5:
		return f + "_" + l
	case 6:
		return f + "." + l + strconv.Itoa(r.IntN(90)+10)
	default:
		return f + l[:1] + strconv.Itoa(r.IntN(9000)+1000)
	}
}

// titleEmail is the case variant some forms keep: Jane.Doe@Example.com.
func titleEmail(e string) string {
	b := []byte(e)
	up := true
	for i, c := range b {
		if up && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		up = c == '.' || c == '@' || c == '_'
	}
	return string(b)
}

// typo corrupts s the way hands do: a neighbouring key, a dropped or
// doubled letter, or two letters swapped. Strings shorter than two runes
// are returned as they are.
func typo(r rng, s string) string {
	rs := []rune(s)
	if len(rs) < 2 {
		return s
	}
	// The first letter is kept when there is more than one to choose from:
	// people rarely get it wrong, and record-linkage studies (Febrl's
	// among them) find errors concentrated later in a word.
	i := 0
	if len(rs) > 2 {
		i = 1 + r.IntN(len(rs)-2)
	}
	switch r.IntN(4) {
	case 0: // neighbouring key
		rs[i] = neighbour(r, rs[i])
	case 1: // dropped letter
		rs = append(rs[:i], rs[i+1:]...)
	case 2: // doubled letter
		rs = append(rs[:i+1], rs[i:]...)
	default: // transposition
		rs[i], rs[i+1] = rs[i+1], rs[i]
	}
	return string(rs)
}

var keyboardRows = []string{"qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890"}

func neighbour(r rng, c rune) rune {
	upper := c >= 'A' && c <= 'Z'
	lower := c
	if upper {
		lower = c - 'A' + 'a'
	}
	for _, row := range keyboardRows {
		if i := strings.IndexRune(row, lower); i >= 0 {
			j := i + 1
			if j == len(row) || (i > 0 && r.IntN(2) == 0) {
				j = i - 1
			}
			if upper { // the shift key was held
				return rune(row[j]) - 'a' + 'A'
			}
			return rune(row[j])
		}
	}
	return 'e'
}

// typoEmail corrupts the local part only: a mistyped domain would usually
// bounce and be corrected, a mistyped name goes unnoticed.
func typoEmail(r rng, e string) string {
	at := strings.IndexByte(e, '@')
	if at < 2 {
		return typo(r, e)
	}
	return typo(r, e[:at]) + e[at:]
}

// phone is a US number as ten digits.
type phone [10]byte

func newPhone(r rng, areaCode string) phone {
	var p phone
	copy(p[:3], areaCode)
	// Exchange: 2-9 then two digits, avoiding N11 service codes.
	for {
		p[3] = byte('2' + r.IntN(8))
		p[4] = byte('0' + r.IntN(10))
		p[5] = byte('0' + r.IntN(10))
		if p[4] != '1' || p[5] != '1' {
			break
		}
	}
	for i := 6; i < 10; i++ {
		p[i] = byte('0' + r.IntN(10))
	}
	return p
}

// appendPhone writes p in one of the formats people and systems use.
func appendPhone(b []byte, p phone, format int) []byte {
	switch format {
	case 0: // 503-555-0100
		b = append(b, p[:3]...)
		b = append(b, '-')
		b = append(b, p[3:6]...)
		b = append(b, '-')
		return append(b, p[6:]...)
	case 1: // (503) 555-0100
		b = append(b, '(')
		b = append(b, p[:3]...)
		b = append(b, ") "...)
		b = append(b, p[3:6]...)
		b = append(b, '-')
		return append(b, p[6:]...)
	case 2: // +1 503 555 0100
		b = append(b, "+1 "...)
		b = append(b, p[:3]...)
		b = append(b, ' ')
		b = append(b, p[3:6]...)
		b = append(b, ' ')
		return append(b, p[6:]...)
	case 3: // 503.555.0100
		b = append(b, p[:3]...)
		b = append(b, '.')
		b = append(b, p[3:6]...)
		b = append(b, '.')
		return append(b, p[6:]...)
	case 4: // +15035550100
		b = append(b, "+1"...)
		return append(b, p[:]...)
	default: // 5035550100
		return append(b, p[:]...)
	}
}

const phoneFormats = 6

// appendPad2 appends n (0..99) as two digits.
func appendPad2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse): it is what time.Format does,
// without the allocation and layout parsing per field.
func civil(days int64) (year, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}

// appendDate appends unix seconds as 2006-01-02 (UTC).
func appendDate(b []byte, unix int64) []byte {
	y, m, d := civil(floorDiv(unix, 86400))
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, '-')
	b = appendPad2(b, m)
	b = append(b, '-')
	return appendPad2(b, d)
}

// appendClock appends the time of day of unix seconds as 15:04:05.
func appendClock(b []byte, unix int64) []byte {
	s := int(unix - floorDiv(unix, 86400)*86400)
	b = appendPad2(b, s/3600)
	b = append(b, ':')
	b = appendPad2(b, s/60%60)
	b = append(b, ':')
	return appendPad2(b, s%60)
}

// appendTimestamp appends unix seconds as 2006-01-02 15:04:05 (UTC).
func appendTimestamp(b []byte, unix int64) []byte {
	b = appendDate(b, unix)
	b = append(b, ' ')
	return appendClock(b, unix)
}

// appendWebTimestamp appends unix seconds as 01-02-2006 15:04:05, the web
// analytics export's layout.
func appendWebTimestamp(b []byte, unix int64) []byte {
	y, m, d := civil(floorDiv(unix, 86400))
	b = appendPad2(b, m)
	b = append(b, '-')
	b = appendPad2(b, d)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(y), 10)
	b = append(b, ' ')
	return appendClock(b, unix)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// appendCents appends an amount of cents as 4.50.
func appendCents(b []byte, cents int) []byte {
	b = strconv.AppendInt(b, int64(cents/100), 10)
	b = append(b, '.')
	return appendPad2(b, cents%100)
}

const hexDigits = "0123456789abcdef"

// appendUUID appends a version-4 UUID drawn from the seeded generator, the
// shape of the anonymous IDs web analytics tools set in a cookie.
func appendUUID(b []byte, r rng) []byte {
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // RFC 4122 variant
	var u [16]byte
	for i := range 8 {
		u[i] = byte(hi >> (56 - 8*i))
		u[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}
