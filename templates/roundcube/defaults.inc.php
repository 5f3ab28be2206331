<?php
// Roundcube's built-in defaults for host {{host_name}} (site {{site_name}}),
// rendered by emailng from templates/roundcube/defaults.inc.php. Roundcube
// reads defaults.inc.php and then config.inc.php from ROUNDCUBE_CONFIG_DIR
// ({{etc_dir}}/roundcube); Debian keeps upstream's defaults, unchanged, as
// its conffile /etc/roundcube/defaults.inc.php. Nothing else of
// /etc/roundcube is read: our settings are all in config.inc.php.
include '/etc/roundcube/defaults.inc.php';
