package standardize

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	knit "github.com/knit-cdp/knit"
)

// standardCase is one input and its expected standard form; "" expects
// ok=false.
type standardCase struct{ in, want string }

func checkCases(t *testing.T, name string, standardise Func, cases []standardCase) {
	t.Helper()
	for _, c := range cases {
		got, ok := standardise(c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%s(%q) = %q, %v; want %q, %v", name, c.in, got, ok, c.want, c.want != "")
		}
	}
}

func TestText(t *testing.T) {
	checkCases(t, "Text", Text, []standardCase{
		{"  Jane   DOE ", "jane doe"},
		{"José", "jose"},
		{"Zoë", "zoe"},
		{"Müller", "muller"},
		{"Łukasz Żółć", "lukasz zolc"},
		{"Straße", "strasse"},
		{"STRASSE", "strasse"},
		{"Ærøskøbing", "aeroskobing"},
		{"Œuvre", "oeuvre"},
		{"Đorđe Þór", "dorde thor"},
		{"O'Brien", "obrien"},
		{"O’Brien", "obrien"},
		{"Smith-Jones", "smith jones"},
		{"AT&T, Inc.", "at t inc"},
		{"ﬁnance", "finance"},                // ligature via NFKD
		{"ＡＣＭＥ １２３", "acme 123"},             // fullwidth forms
		{"٣٤٥ Main", "345 main"},             // Arabic-Indic digits
		{"Владимир Путин", "vladimir putin"}, // Cyrillic
		{"Αθήνα", "athina"},                  // Greek with tonos
		{"王伟", "u0738bu04f1f"},               // no ASCII reading: hex code points
		{"\t\n", ""},
		{"!!!", ""},
	})
}

func TestMuellerAndMullerAreDistinctButClose(t *testing.T) {
	// ü folds to u, not ue: "Müller" and "Mueller" stay one edit apart and
	// are left to a fuzzy condition, while "Müller" ≡ "Muller" exactly.
	muller, _ := Text("Müller")
	mueller, _ := Text("Mueller")
	plain, _ := Text("MULLER")
	if muller != plain {
		t.Errorf("Text(Müller) = %q, want it equal to Text(MULLER) = %q", muller, plain)
	}
	if muller == mueller {
		t.Errorf("Text(Müller) = Text(Mueller) = %q; the fold is documented as ü→u", muller)
	}
}

func TestEmail(t *testing.T) {
	checkCases(t, "Email", Email, []standardCase{
		{"Jane.Doe+news@GoogleMail.com", "janedoe@gmail.com"},
		{"  jane.doe@gmail.com ", "janedoe@gmail.com"},
		{"mailto:Jane@Example.COM", "jane@example.com"},
		{"MAILTO:jane@example.com", "jane@example.com"},
		{"jane.doe+shop@example.com", "jane.doe@example.com"},
		{"jane.doe@example.co.uk", "jane.doe@example.co.uk"},
		// junk
		{"", ""},
		{"n/a", ""},
		{"jane@", ""},
		{"@example.com", ""},
		{"jane@localhost", ""},
		{"jane@example.", ""},
		{"jane@.com", ""},
		{"jane@@example.com", ""},
		{"a@b@example.com", ""},
		{"jane doe@example.com", ""},
		{"+tag@example.com", ""},
		{"jane@-bad.com", ""},
	})
}

func TestPhone(t *testing.T) {
	tests := []struct {
		in, region, want string
	}{
		{"503-555-0100", "US", "+15035550100"},
		{"+1 (503) 555 0100", "US", "+15035550100"},
		{"(503) 555.0100", "US", "+15035550100"},
		{"1-503-555-0100", "US", "+15035550100"},
		{"+15035550100", "GB", "+15035550100"},
		{"503-555-0100", "", "+15035550100"}, // default region is US
		{"020 7946 0958", "GB", "+442079460958"},
		{"020 7946 0958", "gb", "+442079460958"},
		{"+44 (0)20 7946 0958", "US", "+442079460958"},
		{"+4402079460958", "US", "+442079460958"}, // national prefix inside E.164 is dropped
		{"030 1234567", "DE", "+49301234567"},
		{"+39 06 1234 5678", "US", "+390612345678"}, // Italy keeps its leading zero
		{"503-555-0100 ext. 12", "US", "+15035550100"},
		// Junk is not judged here: the guards block it (see doc comment).
		{"0000000000", "US", "+10000000000"},
		// Unparseable but long enough: digits alone.
		{"+999 123 456 789", "US", "999123456789"},
		// Too short or no digits at all.
		{"12345", "US", ""},
		{"n/a", "US", ""},
		{"", "US", ""},
	}
	for _, tt := range tests {
		got, ok := Phone(tt.in, tt.region)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Phone(%q, %q) = %q, %v; want %q, %v", tt.in, tt.region, got, ok, tt.want, tt.want != "")
		}
	}
}

func TestDigitsAndExact(t *testing.T) {
	if got, ok := Digits(" 707-12 ٣ "); got != "707123" || !ok {
		t.Errorf("Digits = %q, %v; want 707123, true", got, ok)
	}
	if _, ok := Digits("none"); ok {
		t.Error("Digits(none) ok = true, want false")
	}
	if got, ok := Exact("  AbC-1 "); got != "AbC-1" || !ok {
		t.Errorf("Exact = %q, %v; want AbC-1, true", got, ok)
	}
	if _, ok := Exact("   "); ok {
		t.Error("Exact(spaces) ok = true, want false")
	}
}

func TestName(t *testing.T) {
	checkCases(t, "Name", Name, []standardCase{
		{"Smith, Bob", "bob smith"},
		{"Dr. Jane Doe Jr.", "jane doe"},
		{"Mrs. Peggy O'Neil", "peggy oneil"},
		{"Doe Jr., John", "john doe"},
		{"John Doe, Jr.", "john doe"},
		{"Doe, Prof. Jane, PhD", "jane doe"},
		{"  JOSÉ   GARCÍA ", "jose garcia"},
		{"Henry Ford III", "henry ford"},
		{"Mr.", ""},
		{"", ""},
	})
}

func TestFirstName(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"Bob", "robert"},
		{"bobby", "robert"},
		{"Robert", "robert"},
		{"Liz", "elizabeth"},
		{"Peggy", "margaret"},
		{"Bill", "william"},
		{"Liam", "william"},
		{"Bob Lee", "robert lee"},
		{"Smith, Bob", "robert smith"},
		{"Chris", "christopher"}, // ambiguous: the first row listing it wins
		{"Christine", "christine"},
		// The common reading, not the alphabetically first one.
		{"Will", "william"}, {"Ted", "edward"}, {"Harry", "henry"}, {"Sam", "samuel"}, {"Jack", "john"}, {"Fred", "frederick"},
		{"Nathan", "nathan"},   // a canonical name resolves to itself, though also Jonathan's nickname
		{"Xiomara", "xiomara"}, // not in the table
		{"Mr.", ""},
	}
	for _, tt := range tests {
		if got := FirstName(tt.in); got != tt.want {
			t.Errorf("FirstName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNicknameTableSize(t *testing.T) {
	canonical := map[string]bool{}
	for _, c := range nicknames {
		canonical[c] = true
	}
	if len(canonical) < 150 || len(nicknames) < 400 {
		t.Errorf("nickname table has %d canonical names and %d entries; want at least 150 and 400", len(canonical), len(nicknames))
	}
}

func TestAddress(t *testing.T) {
	same := [][]string{
		{"12 North Main Street Apt 4", "12 N Main St Unit 4", "12 n. main st. #4", "12 North Main Str., Suite 4", "12 N Main St Apt #4"},
		{"500 First Avenue NE", "500 1st Ave Northeast", "500 1st av north east"},
		{"P.O. Box 77", "PO Box 77", "Post Office Box 77"},
		{"9 Elm Boulevard, Floor 3", "9 elm blvd fl 3"},
	}
	for _, group := range same {
		want, _ := Address(group[0])
		for _, in := range group[1:] {
			if got, _ := Address(in); got != want {
				t.Errorf("Address(%q) = %q, want %q (same as %q)", in, got, want, group[0])
			}
		}
	}
	if got, _ := Address("12 North Main Street Apt 4"); got != "12 n main st unit 4" {
		t.Errorf("Address = %q, want %q", got, "12 n main st unit 4")
	}
	if got, _ := Address("#5"); got != "unit 5" {
		t.Errorf(`Address("#5") = %q, want "unit 5"`, got)
	}
	if a, _ := Address("12 Main St"); a == "12 elm st" {
		t.Error("different streets must stay different")
	}
}

func TestOrganization(t *testing.T) {
	same := [][]string{
		{"Acme, Inc.", "ACME Incorporated", "Acme Inc", "acme corp.", "The Acme Company", "Acme Co., Ltd.", "ACME L.L.C."},
		{"Müller GmbH", "Muller"},
		{"Johnson & Johnson", "Johnson and Johnson"},
		{"Nordisk A/S", "Nordisk AS"},
	}
	for _, group := range same {
		want, _ := Organization(group[0])
		for _, in := range group[1:] {
			if got, _ := Organization(in); got != want {
				t.Errorf("Organization(%q) = %q, want %q (same as %q)", in, got, want, group[0])
			}
		}
	}
	if got, ok := Organization("Limited"); got != "limited" || !ok {
		t.Errorf(`Organization("Limited") = %q, %v; want "limited", true`, got, ok)
	}
	if got, _ := Organization("Acme Inc"); got != "acme" {
		t.Errorf(`Organization("Acme Inc") = %q, want "acme"`, got)
	}
}

func TestFor(t *testing.T) {
	for _, kind := range Kinds {
		if _, err := For(kind, "US"); err != nil {
			t.Errorf("For(%q): %v", kind, err)
		}
	}
	phone, err := For("phone", "gb")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := phone("020 7946 0958"); got != "+442079460958" {
		t.Errorf("For(phone, gb) gave %q, want +442079460958", got)
	}
	for _, bad := range [][2]string{{"soundex", "US"}, {"phone", "XX"}} {
		_, err := For(bad[0], bad[1])
		if knit.ErrorCode(err) != knit.EINVALID {
			t.Errorf("For(%q, %q) error = %v, want an EINVALID error", bad[0], bad[1], err)
		}
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLists(t *testing.T) {
	aliases := writeFile(t, "aliases.csv", "# company renames\nAcme Corp,Acme Corporation,\"Acme, the old one\"\nglobex,Globex Intl\n")
	bypass := writeFile(t, "bypass.csv", "123 Main St\n\"Store, Front Desk\"\n")
	lists, err := LoadLists(aliases, bypass)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := lists.Canonical("ACME CORPORATION"), lists.Canonical("acme, the old one"); a != b || a != "acme corp" {
		t.Errorf("aliases: Canonical gave %q and %q, want both %q", a, b, "acme corp")
	}
	if got := lists.Canonical("Acme Corp"); got != "acme corp" {
		t.Errorf("Canonical of the canonical value = %q, want acme corp", got)
	}
	if got := lists.Canonical("Initech"); got != "Initech" {
		t.Errorf("Canonical of an unlisted value = %q, want it unchanged", got)
	}
	if !lists.Bypassed("123 MAIN ST") || !lists.Bypassed("store front desk") || lists.Bypassed("124 Main St") {
		t.Error("Bypassed disagrees with the bypass file")
	}
	var none *Lists
	if none.Canonical("x") != "x" || none.Bypassed("x") {
		t.Error("a nil *Lists must have no entries")
	}
	empty, err := LoadLists("", "")
	if err != nil || empty.Bypassed("x") {
		t.Errorf("LoadLists with no files = %v, %v", empty, err)
	}
}

func TestListErrorsNameFileAndLine(t *testing.T) {
	tests := []struct {
		name, alias, bypass, want string
	}{
		{"alias row with one value", "acme,acme inc\n\nglobex\n", "", "aliases.csv:3:"},
		{"variant claimed twice", "acme,acme inc\nglobex,acme inc\n", "", `aliases.csv:2: "acme inc" is already an alias of "acme" (line 1)`},
		{"empty field", "acme,!!!\n", "", "aliases.csv:1: field 2"},
		{"bad quoting", "acme,\"acme inc\n", "", "aliases.csv:1:"},
		{"bypass with two values", "", "one\ntwo,three\n", "bypass.csv:2:"},
		{"missing file", "", "", "no-such-file.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			aliasPath, bypassPath := "", ""
			if tt.alias != "" {
				aliasPath = writeFile(t, "aliases.csv", tt.alias)
			}
			if tt.bypass != "" {
				bypassPath = writeFile(t, "bypass.csv", tt.bypass)
			}
			if tt.name == "missing file" {
				aliasPath = filepath.Join(t.TempDir(), "no-such-file.csv")
			}
			_, err := LoadLists(aliasPath, bypassPath)
			var kerr *knit.Error
			if !errors.As(err, &kerr) || kerr.Code != knit.EINVALID {
				t.Fatalf("error = %v, want an EINVALID *knit.Error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestEmbeddedTablesLoad(t *testing.T) {
	// The package-level tables loaded during init; check each is non-trivial
	// so an emptied or mangled data file fails here, not in production.
	if len(addressWords.canonical) < 100 || len(organizationSuffix.canonical) < 30 || len(nameTitles) < 20 || len(nameEnd) < 10 {
		t.Errorf("tables too small: address %d, organisation %d, titles %d, suffixes %d",
			len(addressWords.canonical), len(organizationSuffix.canonical), len(nameTitles), len(nameEnd))
	}
}

func FuzzText(f *testing.F) {
	for _, seed := range []string{"José", "Straße", "王伟", "O'Brien", " a  b ", "٣", "ﬁ", "\xff\xfe"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, ok := Text(s)
		if ok != (out != "") {
			t.Fatalf("Text(%q) = %q, ok=%v", s, out, ok)
		}
		for i := 0; i < len(out); i++ {
			c := out[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == ' ') {
				t.Fatalf("Text(%q) = %q holds %q, want only a-z, 0-9 and spaces", s, out, c)
			}
		}
		if strings.Contains(out, "  ") || strings.HasPrefix(out, " ") || strings.HasSuffix(out, " ") {
			t.Fatalf("Text(%q) = %q has stray spaces", s, out)
		}
		if again, _ := Text(out); again != out {
			t.Fatalf("Text is not idempotent: %q → %q → %q", s, out, again)
		}
		if !utf8.ValidString(out) {
			t.Fatalf("Text(%q) is not valid UTF-8", s)
		}
	})
}

func FuzzPhoneFastPath(f *testing.F) {
	for _, seed := range []string{"503-555-0100", "+1 (503) 555 0100", "15035550100", "(503) 555.0100", "+12125550199", "1 800 555 0100", "0123456789", "+4402079460958"} {
		f.Add(seed, "US")
		f.Add(seed, "CA")
		f.Add(seed, "GB")
	}
	f.Fuzz(func(t *testing.T, s, region string) {
		if region != "US" && region != "CA" && region != "GB" {
			return
		}
		fast, ok := nanpFast(strings.TrimSpace(s), region)
		if !ok {
			return
		}
		slow, slowOK := phoneSlow(strings.TrimSpace(s), region)
		if !slowOK || slow != fast {
			t.Fatalf("Phone(%q, %s): fast path %q, parser %q (ok=%v)", s, region, fast, slow, slowOK)
		}
	})
}

func TestFoldedRuneTableMatchesNormalisation(t *testing.T) {
	// The precomputed table must give what normalising afresh gives, gaps
	// included, for every rune it covers, between letters and alone.
	for r, folded := range foldedRunes {
		for _, context := range [][2]string{{"a", "b"}, {"", ""}} {
			slow := textWriter{}
			slow.word(context[0])
			slow.normalize(r)
			slow.ascii(' ')
			slow.word(context[1])
			if fast, _ := Text(context[0] + string(r) + " " + context[1]); fast != string(slow.buf) {
				t.Fatalf("U+%04X (table %q): Text gives %q, normalising gives %q", r, folded, fast, slow.buf)
			}
		}
	}
}
