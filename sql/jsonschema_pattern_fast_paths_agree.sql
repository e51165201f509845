-- The fast path (plan.c) matches some patterns without PCRE2: anchored
-- fixed-length patterns over ASCII sets (ids, hashes) are checked character
-- by character (src/jsonschema/regex_fixed.c), and a pattern's remembered
-- verdicts are switched off when they stop paying.  The full validator
-- (validate.c) always asks PCRE2; every verdict must be the same.
SET search_path = candystore, public;

CREATE TEMP TABLE patterns (p text);
INSERT INTO patterns VALUES
  -- the fixed shape: taken by regex_fixed.c
  ('^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
  ('^[0-9a-f]{40}$'), ('^[0-9A-F]{4}$'), ('^\d{3}-\d{2}$'), ('^[a-z]$'), ('^$'),
  ('^ab{2}c$'), ('^[-a]{2}$'), ('^[a-]{2}$'), ('^[\-\]]{2}$'), ('^[.$*]{2}$'),
  ('^\.\$$'), ('^\\$'), ('^[a^]$'), ('^v{0}1$'), ('^[+-/]{3}$'), ('^x/y$'), ('^ $'),
  -- near misses: left to PCRE2
  ('^[^0-9]{2}$'), ('^.{3}$'), ('^[0-9]{2,3}$'), ('^a+$'), ('^a?b$'), ('^(ab){2}$'),
  ('^a|b$'), ('[0-9]{3}'), ('^[0-9]{3}'), ('^a\$'), ('^[\w]{2}$'), ('^\s$'),
  ('^é{2}$'), ('^[é]$'), ('^\u0041$'), ('^a{2}?$');

CREATE TEMP TABLE strings (s text);
INSERT INTO strings VALUES
  ('6513270e-269e-4d37-b2a7-4de452e6b438'), ('6513270E-269e-4d37-b2a7-4de452e6b438'),
  ('6513270e-269e-4d37-b2a7-4de452e6b43'), ('6513270e-269e-4d37-b2a7-4de452e6b4388'),
  ('6513270e0269e-4d37-b2a7-4de452e6b438'), ('6513270é-269e-4d37-b2a7-4de452e6b43'),
  ('3d9c172411e20b8f6b0d549b6f03675a1600a35a'), ('3d9c172411e20b8f6b0d549b6f03675a1600a35g'),
  ('BEEF'), ('beef'), ('123-45'), ('123-4x'), ('a'), ('z'), ('é'), ('ab'), (''), ('abbc'),
  ('abc'), ('--'), ('a-'), ('-]'), (']]'), ('.$'), ('$*'), ('\'), ('^'), ('1'), ('v1'),
  ('+,-'), ('/./'), ('x/y'), (' '), ('ab12'), ('éé'), ('A'), ('aa'), ('_-'), ('12'), ('123');

-- every pattern against every string, as the jsonb strings of a document
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE fast) AS matched,
       count(*) FILTER (WHERE fast IS DISTINCT FROM slow) AS disagreements
FROM (SELECT jsonb_matches_schema(jsonb_build_object('pattern', p), to_jsonb(s)) AS fast,
             NOT EXISTS (SELECT FROM jsonschema_validation_errors(jsonb_build_object('pattern', p), to_jsonb(s))) AS slow
      FROM patterns, strings) x;

-- and as property names, through patternProperties
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE fast IS DISTINCT FROM slow) AS disagreements
FROM (SELECT jsonb_matches_schema(jsonb_build_object('patternProperties', jsonb_build_object(p, false)),
                                  jsonb_build_object(s, 1)) AS fast,
             NOT EXISTS (SELECT FROM jsonschema_validation_errors(
                 jsonb_build_object('patternProperties', jsonb_build_object(p, false)),
                 jsonb_build_object(s, 1))) AS slow
      FROM patterns, strings) x;

-- A pattern whose strings never repeat stops remembering verdicts after a
-- round of lookups; afterwards repeated strings get the same verdicts.
SELECT count(*) AS checks,
       count(*) FILTER (WHERE fast) AS matched,
       count(*) FILTER (WHERE fast IS DISTINCT FROM slow) AS disagreements
FROM (SELECT jsonb_matches_schema('{"pattern": "^v[0-9]+[05]$"}', to_jsonb(s)) AS fast,
             NOT EXISTS (SELECT FROM jsonschema_validation_errors('{"pattern": "^v[0-9]+[05]$"}', to_jsonb(s))) AS slow
      FROM (SELECT 'v' || g AS s FROM generate_series(1, 600) g
            UNION ALL SELECT 'v' || (g % 20) FROM generate_series(1, 600) g) x) y;
