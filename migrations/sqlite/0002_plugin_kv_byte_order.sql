-- Nothing to change: SQLite's default BINARY collation already compares
-- plugin keys byte by byte. PostgreSQL's 0002 sets collation "C" on
-- plugin_kv.key so both engines sort and match keys the same way; this file
-- keeps the two migration histories numbered alike.
SELECT 1;
