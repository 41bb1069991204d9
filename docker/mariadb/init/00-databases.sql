-- Runs once, when the lab's MariaDB volume is created (docker-entrypoint-initdb.d).
-- The proxy's tables (subscriber, location, aliases, acc, ...) are created by the proxy's
-- own schema step (services/proxy/src/storage/mysql-schema.ts), so this only provides the
-- database and the book's two accounts: a read-write one for the proxy and the admin tool,
-- a read-only one for tools that must not change anything.
CREATE DATABASE IF NOT EXISTS openser CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'openser'@'%' IDENTIFIED BY 'openserrw';
CREATE USER IF NOT EXISTS 'openserro'@'%' IDENTIFIED BY 'openserro';
GRANT ALL PRIVILEGES ON openser.* TO 'openser'@'%';
GRANT SELECT ON openser.* TO 'openserro'@'%';
FLUSH PRIVILEGES;
