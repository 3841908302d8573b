package postgres

// functionsSQL returns the statements that install knit's string
// similarity functions in a project's schema. PostgreSQL has no
// Jaro-Winkler, and fuzzystrmatch's levenshtein is an extension installed
// once per database (in one schema, by a privileged role) and limited to
// 255 characters; these PL/pgSQL versions need no extension and no
// privilege beyond the schema, at the cost of speed (see docs/postgres.md).
// They follow DuckDB's built-ins, so that a project gives the same links
// on both engines: on characters (DuckDB counts bytes; the pipeline
// compares ASCII-folded text only, where the two agree), Jaro-Winkler 0
// for an empty value, Winkler's prefix boost only from a Jaro score of
// 0.7, and the transpositions counted as half the out-of-order matches
// rounded down, as DuckDB (rapidfuzz) does. knit's Go similarity.Jaro
// halves without rounding, so the two differ when that count is odd
// ("mikhvyla"/"mikhayla": DuckDB 0.9214, Go 0.9071); see docs/postgres.md.
// Floating-point operations are done in the same order, in float8, as
// the Go code, so scores are equal, not merely close.
func functionsSQL(schema string) []string {
	s := quote(schema) + "."
	return []string{
		`CREATE OR REPLACE FUNCTION ` + s + `knit_levenshtein(a text, b text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  ca text[] := string_to_array(a, NULL);
  cb text[] := string_to_array(b, NULL);
  la int := cardinality(ca);
  lb int := cardinality(cb);
  prev int[];
  cur int[];
BEGIN
  IF a = b THEN RETURN 0; END IF;
  IF la = 0 THEN RETURN lb; END IF;
  IF lb = 0 THEN RETURN la; END IF;
  prev := array(SELECT generate_series(0, lb));
  FOR i IN 1..la LOOP
    cur := array_fill(0, ARRAY[lb + 1]);
    cur[1] := i;
    FOR j IN 1..lb LOOP
      cur[j + 1] := least(prev[j + 1] + 1, cur[j] + 1, prev[j] + CASE WHEN ca[i] = cb[j] THEN 0 ELSE 1 END);
    END LOOP;
    prev := cur;
  END LOOP;
  RETURN prev[lb + 1];
END
$fn$`,
		`CREATE OR REPLACE FUNCTION ` + s + `knit_jaro_winkler(a text, b text) RETURNS float8
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  ca text[] := string_to_array(a, NULL);
  cb text[] := string_to_array(b, NULL);
  la int := cardinality(ca);
  lb int := cardinality(cb);
  win int;
  ma bool[];
  mb bool[];
  m int := 0;
  t int := 0;
  k int := 1;
  p int := 0;
  score float8;
BEGIN
  IF a = b AND a <> '' THEN RETURN 1; END IF;
  IF la = 0 OR lb = 0 THEN RETURN 0; END IF;
  win := greatest(greatest(la, lb) / 2 - 1, 0);
  ma := array_fill(false, ARRAY[la]);
  mb := array_fill(false, ARRAY[lb]);
  FOR i IN 1..la LOOP
    FOR j IN greatest(1, i - win)..least(lb, i + win) LOOP
      IF NOT mb[j] AND cb[j] = ca[i] THEN
        ma[i] := true;
        mb[j] := true;
        m := m + 1;
        EXIT;
      END IF;
    END LOOP;
  END LOOP;
  IF m = 0 THEN RETURN 0; END IF;
  FOR i IN 1..la LOOP
    IF ma[i] THEN
      WHILE NOT mb[k] LOOP k := k + 1; END LOOP;
      IF ca[i] <> cb[k] THEN t := t + 1; END IF;
      k := k + 1;
    END IF;
  END LOOP;
  score := (m::float8 / la::float8 + m::float8 / lb::float8 + (m::float8 - (t / 2)::float8) / m::float8) / 3::float8;
  IF score < 0.7::float8 THEN RETURN score; END IF;
  WHILE p < least(la, lb, 4) AND ca[p + 1] = cb[p + 1] LOOP p := p + 1; END LOOP;
  RETURN score + p::float8 * 0.1::float8 * (1::float8 - score);
END
$fn$`,
		// DuckDB's string_split('', ' ') is [''], PostgreSQL's
		// string_to_array('', ' ') is {}: the CASE keeps DuckDB's sets.
		`CREATE OR REPLACE FUNCTION ` + s + `knit_jaccard(a text, b text) RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
  WITH wa AS (SELECT DISTINCT w FROM unnest(CASE WHEN a = '' THEN ARRAY[''] ELSE string_to_array(a, ' ') END) w),
       wb AS (SELECT DISTINCT w FROM unnest(CASE WHEN b = '' THEN ARRAY[''] ELSE string_to_array(b, ' ') END) w)
  SELECT (SELECT count(*) FROM wa JOIN wb USING (w))::float8
       / greatest((SELECT count(*) FROM (SELECT w FROM wa UNION SELECT w FROM wb) u), 1)::float8
$fn$`,
	}
}
