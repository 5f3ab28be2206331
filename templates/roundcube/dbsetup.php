<?php
// The webmail's SQLite database on host {{host_name}}: run by emailng as
// www-data before php-fpm starts (webmail_service.c), rendered from
// templates/roundcube/dbsetup.php. Creates the schema of the installed
// roundcube-core on the first start, then applies the package's schema
// updates (after a Debian upgrade), like upstream's bin/initdb.sh and
// bin/updatedb.sh (Debian ships only the latter).
define('INSTALL_PATH', '/var/lib/roundcube/');
require_once INSTALL_PATH . 'program/include/clisetup.php';

$db = rcmail_utils::db();
if (!in_array($db->table_name('system'), (array) $db->list_tables())) {
    rcmail_utils::db_init(INSTALL_PATH . 'SQL');
}
if (!rcmail_utils::db_update(INSTALL_PATH . 'SQL', 'roundcube', null, ['errors' => true, 'quiet' => true])) {
    exit(1);
}
