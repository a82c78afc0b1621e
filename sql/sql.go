// Package sql embeds the SQL Tessera sends: to ClickHouse the versioned
// migrations (tables and views), report queries and the statements the code
// sends that are more than a line; to a shop's database the preset queries
// (Magento 2). Every ClickHouse statement must run on
// ClickHouse 18.16 (what Debian ships and the tests start) and on current releases:
// no DateTime64, Map, JSON type, window functions, LowCardinality or async inserts.
// `{db}` stands for the configured database.
package sql

import "embed"

// Migrations holds NNNN_name.sql files, applied in name order, each once.
// Statements are separated by a line holding only ';'.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Reports holds queries for analysts with {db}, {from} and {to} to replace.
//
//go:embed reports/*.sql
var Reports embed.FS

// Presets holds the built-in queries of source presets, one file an entity:
// presets/NAME/ENTITY.sql.
//
//go:embed presets/*/*.sql
var Presets embed.FS

// SchemaMigrations creates the record of applied migrations.
//
//go:embed statements/schema_migrations.sql
var SchemaMigrations string
