-- Shards are cut by cityHash64 of the customer id, as ClickHouse computes it,
-- so that the warehouse filters each shard's rows (it was FNV-1a in Go).
ALTER TABLE {db}.score_parts
    COMMENT COLUMN shard 'the part: customers whose id hashes to it (cityHash64(customer_id) modulo shards)'
