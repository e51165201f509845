-- JSON Schema "pattern", "patternProperties" and format "regex" follow
-- ECMA-262 with the "u" flag (PCRE2 underneath): each case below was wrong
-- on the former translation to PostgreSQL's regex engine (issue 18).
SET search_path = candystore, public;

CREATE FUNCTION pg_temp.m(pattern text, s text) RETURNS boolean LANGUAGE sql AS
$$ SELECT candystore.jsonb_matches_schema(jsonb_build_object('pattern', pattern), to_jsonb(s)) $$;
-- the SQLSTATE and message of a statement's error, or 'ok'
CREATE FUNCTION pg_temp.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE msg text;
BEGIN
    EXECUTE stmt;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
    RETURN SQLSTATE || ': ' || msg;
END
$$;

-- 1. repetition counts above 255
SELECT pg_temp.m('^[a-z]{1,300}$', repeat('a', 300)) AS count_300,
       pg_temp.m('^[a-z]{1,300}$', repeat('a', 301)) AS count_301,
       pg_temp.m('^.{0,256}$', repeat('x', 256)) AS dot_256,
       pg_temp.m('^.{0,256}$', repeat('x', 257)) AS dot_257,
       pg_temp.m('^[^/]{1,256}$', 'schemastore') AS schemastore;

-- 2. a "-" that ECMA reads as a literal
SELECT pg_temp.m('^[a-z0-9-_]+$', 'a-b_c') AS dash_after_range,
       pg_temp.m('^[a-zA-Z0-9-_]+$', '-') AS dash_only,
       pg_temp.m('^[a-zA-Z-_0-9]+$', 'Z-_9') AS dash_between,
       pg_temp.m('^[a-c-e]+$', 'a-e') AS a_c_dash_e,
       pg_temp.m('^[a-c-e]+$', 'd') AS d_is_not_in,
       pg_temp.m('^[/-a-z]+$', '0Az-') AS slash_to_a;

-- 3. hex escapes take exactly two digits; [\b], \cX and \0
SELECT pg_temp.m('^\x41B$', 'AB') AS x41_then_b,
       pg_temp.m('^\x41B$', U&'\041B') AS not_u041b,
       pg_temp.m('^[\b]$', E'\b') AS class_backspace,
       pg_temp.m('^\cJ$', E'\n') AS control_j,
       pg_temp.m('^a\0?b$', 'ab') AS nul_escape,
       pg_temp.m('^[\bA-Z]+$', E'A\bZ') AS backspace_and_range,
       pg_temp.m('^[\x41\d]+$', 'A5') AS hex_and_digit,
       pg_temp.m('^[\x41\d]+$', 'B') AS b_is_not_in;

-- 4. surrogate-pair escapes spell one character
SELECT pg_temp.m('^\uD83D\uDE00$', U&'\+01F600') AS pair,
       pg_temp.m('^[\uD83D\uDE00]$', U&'\+01F600') AS pair_in_class,
       pg_temp.m('^\u{1F600}$', U&'\+01F600') AS braced,
       pg_temp.m('^.$', U&'\+01F600') AS dot_is_one_code_point;

-- 5. \b stays ASCII whatever else the pattern holds
SELECT pg_temp.m('^\p{L}\b', U&'\00E9') AS no_boundary_after_e_acute,
       pg_temp.m('^\w+\b', 'abc') AS boundary_at_end,
       pg_temp.m('\p{L}x\b', 'ax') AS boundary_with_property;

-- 6. \p{White_Space} is Unicode's White_Space, not U+001C..U+001F
SELECT pg_temp.m('^\p{White_Space}$', chr(28)) AS u001c,
       pg_temp.m('^\p{White_Space}$', chr(133)) AS u0085,
       pg_temp.m('^\s$', chr(133)) AS s_is_not_u0085,
       pg_temp.m('^\s$', chr(65279)) AS s_is_ufeff;

-- 7. Uppercase, Lowercase, Alphabetic are the binary properties
SELECT pg_temp.m('^\p{Uppercase}$', chr(8544)) AS roman_one_upper,
       pg_temp.m('^\p{Lu}$', chr(8544)) AS roman_one_not_lu,
       pg_temp.m('^\p{Lowercase}$', chr(170)) AS ordinal_a_lower,
       pg_temp.m('^\p{Alphabetic}$', chr(8544)) AS roman_one_alphabetic,
       pg_temp.m('^\p{L}$', chr(8544)) AS roman_one_not_l;

-- 8. back-references: groups in lookarounds capture, unset groups match
-- the empty string, forward references are allowed
SELECT pg_temp.m('^(?=(a))\1b$', 'ab') AS capture_in_lookahead,
       pg_temp.m('^(?=(a))a(b)\2$', 'abb') AS later_group_keeps_its_number,
       pg_temp.m('^(a)?\1b$', 'b') AS unset_group_is_empty,
       pg_temp.m('^\1(a)$', 'a') AS forward_reference,
       pg_temp.m('^(?<y>\d{2})-\k<y>$', '20-20') AS named,
       pg_temp.m('^(?<y>\d{2})-\k<y>$', '20-21') AS named_differs;

-- the idioms the translation refused
SELECT pg_temp.m('^[\s\S]+$', E'a\nb') AS anything,
       pg_temp.m('^[\W]+$', U&'!\00E9') AS non_word,
       pg_temp.m('^e\p{M}$', U&'e\0301') AS mark,
       pg_temp.m('^[^]$', E'\n') AS negated_empty_class,
       pg_temp.m('^[]$', 'a') AS empty_class;

-- ECMA's own rules: "." excludes line terminators, "$" is the very end
SELECT pg_temp.m('^.$', E'\n') AS dot_newline,
       pg_temp.m('^.$', chr(8232)) AS dot_line_separator,
       pg_temp.m('a$', E'a\n') AS dollar_before_newline,
       pg_temp.m('^\d$', chr(1633)) AS d_is_ascii,
       pg_temp.m('^\w$', U&'\00E9') AS w_is_ascii;

-- syntax errors, as ECMA-262 with "u" has them: each is 2201B
SELECT pg_temp.err(format($$SELECT pg_temp.m(%L, 'x')$$, p)) AS error, p AS pattern
FROM unnest(ARRAY['(', 'a{2,1}', 'a**', '\1', '\k<x>', '\a', '[\d-z]', '{1}', 'a{1', '(?i)a', '\u12',
                  '\p{Letter_Like}', '\p{Script=greek}', '(?<n>a)(?<n>b)', 'a{1,70000}']) AS p;

-- 9. an invalid pattern is an error wherever it sits and whatever the
-- instance, in every function, and when the schema is registered; a valid
-- one (a count above 255 is valid) answers alike in every function
SELECT jsonb_matches_schema('{"contains": {"pattern": "^a{256}$"}}', '[1, "x"]') AS matches;
SELECT count(*) AS errors FROM jsonschema_validation_errors('{"contains": {"pattern": "^a{256}$"}}', '[1, "x"]');
SELECT pg_temp.err($$SELECT jsonb_matches_schema('{"contains": {"pattern": "("}}', '[1]')$$) AS matches,
       pg_temp.err($$SELECT jsonschema_validation_errors('{"contains": {"pattern": "("}}', '[1]')$$) AS errors,
       pg_temp.err($$SELECT jsonb_matches_schema('{"contains": {"pattern": "("}}', '1')$$) AS not_an_array,
       pg_temp.err($$SELECT jsonb_matches_schema('{"$defs": {"unused": {"pattern": "("}}}', '1')$$) AS unused,
       pg_temp.err($$SELECT jsonb_matches_schema('{"patternProperties": {"(": true}}', '{}')$$) AS pattern_properties;
SELECT pg_temp.err($$SELECT candystore.register_schema('regress.bad.pattern',
    '{"type": "object", "properties": {"code": {"type": "string", "pattern": "[z-a]"}}}')$$) AS registration;
SELECT count(*) AS registered FROM candystore.schemas WHERE event_type = 'regress.bad.pattern';

-- format "regex" is the same syntax, and never raises
SELECT jsonb_matches_schema('{"format": "regex"}', '"^[a-z0-9-_]{1,300}$"') AS valid,
       jsonb_matches_schema('{"format": "regex"}', '"\\a"') AS letter_escape,
       jsonb_matches_schema('{"format": "regex"}', '"(?<n>a)\\k<m>"') AS unknown_name,
       jsonb_matches_schema('{"format": "regex"}', '"\\p{L}\\P{Lu}"') AS properties,
       jsonb_matches_schema('{"format": "regex"}', '"(?<=a+)b"') AS variable_lookbehind;
-- ... though "pattern" cannot run a variable-width lookbehind (PCRE2 10.42)
SELECT pg_temp.err($$SELECT jsonb_matches_schema('{"pattern": "(?<=a+)b"}', '"ab"')$$) AS variable_lookbehind,
       pg_temp.m('(?<=a|bc)d', 'bcd') AS fixed_lookbehinds;

-- patternProperties use the same engine
SELECT jsonb_matches_schema('{"patternProperties": {"^x-[a-z0-9-_]{1,300}$": {"type": "string"}}}',
                            '{"x-a-_b": 1}') AS pattern_property_applies;

-- a match that would backtrack for ever stops at the limit, with 22V04
SET candystore.jsonschema_pattern_match_limit = 10000;
SELECT pg_temp.err($$SELECT jsonb_matches_schema('{"pattern": "^(a|a)*$"}', to_jsonb(repeat('a', 30) || 'b'))$$) AS limit_hit,
       pg_temp.err($$SELECT jsonschema_validation_errors('{"pattern": "^(a|a)*$"}', to_jsonb(repeat('a', 30) || 'b'))$$) AS limit_hit_errors,
       jsonb_matches_schema('{"pattern": "^(a|a)*$"}', '"aaa"') AS short_string_answers;
RESET candystore.jsonschema_pattern_match_limit;
-- only superusers may change it
CREATE ROLE regress_pattern_user;
SET ROLE regress_pattern_user;
SELECT pg_temp.err($$SET candystore.jsonschema_pattern_match_limit = 100000000$$) AS set_by_user;
RESET ROLE;
DROP ROLE regress_pattern_user;
