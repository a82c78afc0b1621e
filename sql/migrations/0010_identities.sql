-- Identity: every id a customer is known by, in any source, and the one
-- canonical customer_id the raw tables use for them. A source's own customer
-- id (kind customer_id, with its source), a hashed e-mail (kind email_hash)
-- and a site anonymous_id seen at login (kind anonymous_id) each map to one
-- canonical customer. Links are only added, never changed: the first customer
-- an id was seen with keeps it.
CREATE TABLE IF NOT EXISTS {db}.identities (
    kind String COMMENT 'customer_id, email_hash or anonymous_id',
    source String COMMENT 'for kind customer_id: the source system (postgres, mysql, clickhouse, shopify, files); empty otherwise',
    id String COMMENT 'the id as the source gives it',
    customer_id String COMMENT 'the canonical customer_id in the raw tables and every output',
    linked_at DateTime COMMENT 'when the link holds from, UTC: the login event for an anonymous_id, else the run that made it',
    run_id String COMMENT 'the extract run that made the link'
) ENGINE = ReplacingMergeTree(linked_at) ORDER BY (kind, source, id)
