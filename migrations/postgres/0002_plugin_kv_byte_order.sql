-- Plugin keys sort and compare byte by byte, as they do on SQLite (BINARY).
-- With the database's default collation (en_US.UTF-8, say) `kv.list-keys`
-- would sort differently per server, and its prefix range (key >= prefix AND
-- key < successor) would not match what a byte-wise prefix test matches.
-- "C" on a UTF-8 database is code-point order, which is UTF-8 byte order.
-- The primary key's index is rebuilt with the new collation.
ALTER TABLE plugin_kv ALTER COLUMN key TYPE TEXT COLLATE "C";
