package pipeline_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/knit-cdp/knit/pipeline"
)

// fuzzyProject writes a one-source project whose dedupe rule is given.
func fuzzyProject(t *testing.T, rule, rows string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "people.csv", "id,first,last,dob,phone\n"+rows)
	writeFile(t, dir, "knit.yaml", `
sources:
  crm:
    file: people.csv
    primary_key: id
    attributes: {first: person.first_name, last: person.last_name, dob: person.dob, phone: person.phone}
fields:
  person.first_name: {normalize: first_name}
  person.last_name: {normalize: name}
  person.phone: {normalize: phone}
unify:
  include_all_records: [crm]
  dedupe:
    crm:
      rules:
`+rule)
	return dir
}

func TestFuzzyRuleLinksAcrossNicknameAndPhoneFormat(t *testing.T) {
	// "Bob Smith, 503-555-0100" is "Robert Smith, +1 (503) 555 0100"; a
	// typo in the last name still links at high precision.
	dir := fuzzyProject(t, `        - name: similar name, same phone
          conditions:
            - {field: person.phone}
            - {field: person.first_name}
            - {field: person.last_name, precision: high}
`, `1,Bob,Smith,,503-555-0100
2,Robert,Smith,,+1 (503) 555 0100
3,Robert,Smyth,,(503) 555-0100
4,Robert,Jones,,503-555-0100
`)
	p, _ := mustRun(t, dir)
	c1 := p.customer("crm/1")
	for _, k := range []string{"crm/2", "crm/3"} {
		if got := p.customer(k); got != c1 {
			t.Errorf("%s is in %s, want crm/1's profile %s", k, got, c1)
		}
	}
	if p.customer("crm/4") == c1 {
		t.Errorf("crm/4 (Jones) joined Smith's profile: edit similarity of smith/jones is far below high")
	}
	if n := p.count(`SELECT count(*) FROM links WHERE rule LIKE '%similar name%' AND accepted AND score > 0.79 AND detail LIKE '%"metric":"edit"%'`); n < 2 {
		t.Errorf("fuzzy links with score and detail: %d, want at least 2", n)
	}
}

func TestTwinsExceptionBlocksTheLink(t *testing.T) {
	// Twins share last name, birth date and phone; only first names differ.
	dir := fuzzyProject(t, `        - name: same family member
          conditions: [{field: person.last_name}, {field: person.dob}, {field: person.phone}]
          except: [{field: person.first_name, precision: high}]
`, `1,Anna,Berg,1990-02-03,5035550100
2,Hanna,Berg,1990-02-03,5035550100
3,Mark,Berg,1990-02-03,5035550100
`)
	p, _ := mustRun(t, dir)
	if p.customer("crm/1") == p.customer("crm/3") {
		t.Errorf("Anna and Mark, twins, were merged despite the exception")
	}
	// Anna/Hanna are one edit apart (0.8 ≥ high): the exception does not fire.
	if p.customer("crm/1") != p.customer("crm/2") {
		t.Errorf("Anna and Hanna should link: their first names agree at high precision")
	}
}

func TestExceptionDoesNotFireOnNull(t *testing.T) {
	// A missing first name is no evidence of a difference: the rule links.
	dir := fuzzyProject(t, `        - name: same family member
          conditions: [{field: person.last_name}, {field: person.dob}]
          except: [{field: person.first_name, precision: high}]
`, `1,Anna,Berg,1990-02-03,
2,,Berg,1990-02-03,
`)
	p, _ := mustRun(t, dir)
	if p.customer("crm/1") != p.customer("crm/2") {
		t.Errorf("crm/2 has no first name; the exception must not fire on a null")
	}
}

func TestNullIsNoEvidenceInFuzzyRules(t *testing.T) {
	// Two records without a last name must not agree on it.
	dir := fuzzyProject(t, `        - name: fuzzy last name
          conditions: [{field: person.last_name, precision: low}, {field: person.first_name}]
`, `1,Jo,,,
2,Jo,,,
3,Jo,Smith,,
`)
	p, _ := mustRun(t, dir)
	if p.customer("crm/1") == p.customer("crm/2") {
		t.Errorf("two records with null last names were linked: null counted as agreement")
	}
}

func TestNonASCIINamesCompareByCharacter(t *testing.T) {
	// José and Jose fold to one value; Zoë/Zoe too; a byte-based distance
	// would count two edits per accented letter.
	dir := fuzzyProject(t, `        - name: name at 0.9
          conditions: [{field: person.first_name, precision: "0.9"}, {field: person.last_name}]
`, `1,José,García,,
2,Jose,Garcia,,
3,Josef,Garcia,,
`)
	p, _ := mustRun(t, dir)
	if p.customer("crm/1") != p.customer("crm/2") {
		t.Errorf("José García and Jose Garcia did not link")
	}
	if p.customer("crm/3") == p.customer("crm/2") {
		t.Errorf("Josef/Jose edit similarity is 0.8 < 0.9, yet they linked")
	}
}

// modelProject is a person project with a trained model.
func modelProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("id,first,last,dob,phone\n")
	firsts := []string{"anna", "mark", "lena", "omar", "ivan", "sara", "paul", "nina", "otto", "rosa"}
	lasts := []string{"berg", "cole", "diaz", "ekor", "fahl", "gunn", "hale", "ibsen", "jost", "kuhn"}
	id := 0
	for i := 0; i < 200; i++ {
		f, l := firsts[i%10], lasts[(i/10)%10]+strings.Repeat("x", i/100)
		dob := "19" + string(rune('5'+i%4)) + string(rune('0'+i%10)) + "-0" + string(rune('1'+i%9)) + "-1" + string(rune('0'+i%7))
		id++
		b.WriteString(strings.Join([]string{itoa(id), f, l, dob, ""}, ",") + "\n")
		if i%2 == 0 { // a duplicate with a typo in the last name
			id++
			b.WriteString(strings.Join([]string{itoa(id), f, l[:len(l)-1] + "q", dob, ""}, ",") + "\n")
		}
	}
	writeFile(t, dir, "people.csv", b.String())
	writeFile(t, dir, "knit.yaml", `
sources:
  crm:
    file: people.csv
    primary_key: id
    attributes: {first: person.first_name, last: person.last_name, dob: person.dob}
unify:
  include_all_records: [crm]
  model:
    link: dedupe_only
    comparisons:
      - {field: person.first_name, preset: name}
      - {field: person.last_name, preset: name}
      - {field: person.dob, preset: date_of_birth}
    blocking: [[person.dob], [person.first_name]]
    training: {sample_pairs: 5000}
`)
	return dir
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestModelTrainRunExplain(t *testing.T) {
	dir := modelProject(t)
	p := open(t, dir)
	model, rep, err := pipeline.Train(context.Background(), p.proj, p.db, pipeline.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Passes) != 2 || model.Prior <= 0 || model.Prior >= 1 {
		t.Fatalf("training report %+v, prior %g", rep, model.Prior)
	}
	p.close()
	p, run := mustRun(t, dir)
	if run.Model == nil || run.Model.Links < 90 {
		t.Fatalf("model report %+v; want about 100 links (one per duplicate)", run.Model)
	}
	// Every duplicate (typo in the last name, same first name and dob) links.
	if p.customer("crm/1") != p.customer("crm/2") {
		t.Errorf("crm/1 and its duplicate crm/2 were not linked")
	}
	// The explanation lists each comparison's level and contribution.
	var ev, detail string
	if err := p.db.SQL().QueryRow(`SELECT evidence, detail FROM links WHERE rule = 'model' AND accepted LIMIT 1`).Scan(&ev, &detail); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"person.first_name exact", "person.dob exact", "prior", "probability"} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence %q lacks %q", ev, want)
		}
	}
	if !strings.Contains(detail, `"terms"`) {
		t.Errorf("detail %q is not the JSON of the terms", detail)
	}
	if n := p.count(`SELECT count(*) FROM match_pairs`); int64(n) < run.Model.Links {
		t.Errorf("match_pairs holds %d pairs, fewer than the %d links", n, run.Model.Links)
	}
}

func TestRunWithoutTrainedModelSaysTrainFirst(t *testing.T) {
	dir := modelProject(t)
	p := open(t, dir)
	_, err := pipeline.Run(context.Background(), p.proj, p.db, pipeline.Options{})
	if err == nil || !strings.Contains(err.Error(), "knit train") {
		t.Fatalf("run without a model: %v; want an error telling to run knit train", err)
	}
}
