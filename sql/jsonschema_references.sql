-- $ref resolution: in-document pointers and anchors, registered resources,
-- built-in meta-schemas, dynamic references; unresolvable references fail.
SET search_path = candystore, public;

SELECT jsonb_matches_schema('{"$defs": {"pos": {"type": "integer", "minimum": 1}},
                              "properties": {"n": {"$ref": "#/$defs/pos"}}}', '{"n": 0}') AS pointer_ref,
       jsonb_matches_schema('{"$defs": {"x": {"$anchor": "pos", "minimum": 1}},
                              "items": {"$ref": "#pos"}}', '[1, 2]') AS anchor_ref,
       jsonb_matches_schema('{"$ref": "http://json-schema.org/draft-07/schema#"}',
                            '{"type": "string"}') AS builtin_metaschema;

-- Absolute references resolve against candystore.schema_resources, never the network.
SELECT add_schema_resource('https://schemas.33god.dev/common/id.json',
                           '{"type": "string", "format": "uuid"}');
SELECT jsonb_matches_schema('{"properties": {"id": {"$ref": "https://schemas.33god.dev/common/id.json"}}}',
                            '{"id": "0b9c4b4e-6f0e-4f38-9a70-0c8f2b7ad3a1"}') AS remote_ok,
       jsonb_matches_schema('{"$id": "https://schemas.33god.dev/event/x.json",
                              "properties": {"id": {"$ref": "../common/id.json"}}}',
                            '{"id": "nope"}') AS relative_to_id;
-- Adding the same document again is a no-op; other content under a URI is refused.
SELECT add_schema_resource('https://schemas.33god.dev/common/id.json#',
                           '{"type": "string", "format": "uuid"}');
SELECT add_schema_resource('https://schemas.33god.dev/common/id.json', '{"type": "integer"}');
SELECT add_schema_resource('relative/id.json', '{}');
SELECT add_schema_resource('https://schemas.33god.dev/n.json', '42');
SELECT uri, builtin FROM schema_resources WHERE uri LIKE '%33god%' OR uri LIKE '%draft-07%' ORDER BY uri;

-- An unresolvable reference is an error, not a silent pass.
SELECT jsonb_matches_schema('{"$ref": "https://nowhere.example/s.json"}', '1');
SELECT jsonb_matches_schema('{"$ref": "#/$defs/missing"}', '1');

-- $dynamicRef: a generic list whose items the extending schema decides.
SELECT jsonb_matches_schema(s, '["a", "b"]') AS strings, jsonb_matches_schema(s, '["a", 1]') AS mixed
FROM (VALUES ('{"$id": "https://example.test/strings",
                "$ref": "list",
                "$defs": {"item": {"$dynamicAnchor": "item", "type": "string"},
                          "list": {"$id": "list", "type": "array",
                                   "items": {"$dynamicRef": "#item"},
                                   "$defs": {"item": {"$dynamicAnchor": "item"}}}}}'::jsonb)) v(s);
-- Resources embedded in one schema are not global: another schema reaches
-- only what is in it or registered with add_schema_resource.
SELECT jsonb_matches_schema('{"$ref": "https://example.test/strings/list"}', '["a", 1]');
