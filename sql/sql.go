// Package sql embeds the SQL Tessera runs in ClickHouse: the versioned migrations
// (tables and views) and report queries. Every statement must run on
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
