<?php
// Roundcube (webmail, issue 13 C3) of host {{host_name}}, site {{site_name}},
// rendered by emailng from templates/roundcube/config.inc.php; php-fpm
// (php-fpm.conf) points Roundcube here with ROUNDCUBE_CONFIG_DIR. Served by
// nginx at https://{{public_hostname}}/webmail/ (nginx/webmail.conf).
// Check by hand: php -l {{etc_dir}}/roundcube/config.inc.php
// Settings not named here are upstream's defaults (defaults.inc.php).
$config = [];

// --- the mail servers: as any client, TLS verified ----------------------------
// IMAP and ManageSieve by this host's address, submission by the relays'
// (below), with TLS checked for the public names clients use, against the
// CA that signs them
// ({{webmail_tls_ca}}); never a store directly.
$emailng_tls = function ($peer) {
    return ['ssl' => [
        'verify_peer' => true,
        'verify_peer_name' => true,
        'allow_self_signed' => false,
        'peer_name' => $peer,
        'cafile' => '{{webmail_tls_ca}}',
    ]];
};
$config['imap_host'] = '{{webmail_imap_uri}}';
$config['imap_conn_options'] = $emailng_tls('{{webmail_imap_peer}}');
$config['imap_timeout'] = 30;
// Submission (465, implicit TLS): the relays in site order, each by its
// address with TLS checked for its own name. Roundcube 1.6 connects to one
// smtp_host only, so before each message the smtp_connect hook below takes
// the first relay that accepts a TCP connection within
// $emailng_relay_probe seconds: with a relay down (refused, or silent like
// a dead host) the message goes through the next one. The probe is one
// extra connection per message, which the relay logs as "lost connection
// after CONNECT". No relay answers: the first, and the user sees its error.
$emailng_relays = [{{webmail_smtp_relays}}];
$emailng_relay_probe = 5;
$emailng_smtp = function ($relay) use ($emailng_tls) {
    return ['smtp_host' => 'ssl://' . $relay['host'] . ':' . $relay['port'],
            'smtp_conn_options' => $emailng_tls($relay['peer'])];
};
$config['smtp_host'] = $emailng_smtp($emailng_relays[0])['smtp_host'];
$config['smtp_conn_options'] = $emailng_smtp($emailng_relays[0])['smtp_conn_options'];
if (count($emailng_relays) > 1 && !defined('EMAILNG_SMTP_FAILOVER') && class_exists('rcube_plugin_api')) {
    define('EMAILNG_SMTP_FAILOVER', true);     // once, should this file be read twice
    rcube_plugin_api::get_instance()->register_hook('smtp_connect',
        function ($args) use ($emailng_relays, $emailng_relay_probe, $emailng_smtp) {
            foreach ($emailng_relays as $relay) {
                $probe = @stream_socket_client('tcp://' . $relay['host'] . ':' . $relay['port'], $errno, $errstr,
                                               $emailng_relay_probe);
                if ($probe !== false) {
                    fclose($probe);
                    return $emailng_smtp($relay) + $args;
                }
                rcube::write_log('errors', sprintf('emailng: submission relay %s (%s) did not answer: %s; trying the next',
                                                   $relay['peer'], $relay['host'], $errstr));
            }
            return $args;
        });
}
$config['smtp_user'] = '%u';
$config['smtp_pass'] = '%p';
$config['smtp_timeout'] = 30;
// Users log in with their full address (the directory's `mail`).
$config['login_username_filter'] = 'email';
$config['username_domain'] = '';
$config['mail_domain'] = '';

// --- state: SQLite on this host (sessions, preferences, contacts) -------------
$config['db_dsnw'] = 'sqlite:///{{data_dir}}/roundcube/roundcube.db?mode=0600';
$config['temp_dir'] = '{{data_dir}}/roundcube/temp/';
$config['log_driver'] = 'file';
$config['log_dir'] = '{{log_dir}}/roundcube/';
$config['log_logins'] = true;
$config['debug_level'] = 1;          // errors go to the log, never to the page
$config['enable_installer'] = false;

// --- security (Roundcube's recommendations) -----------------------------------
// des_key: generated once per site by emailng (STATE/secrets/webmail-des-key),
// never in a template; encrypts the IMAP password kept in the session.
$config['des_key'] = trim((string) file_get_contents('{{run_dir}}/roundcube/des_key'));
$config['cipher_method'] = 'AES-256-CBC';
$config['force_https'] = true;
$config['use_https'] = true;
$config['login_rate_limit'] = 3;     // failed logins per minute and account
$config['login_autocomplete'] = 0;
$config['session_lifetime'] = 30;    // minutes without a request
$config['session_name'] = 'emailng_webmail';
$config['session_auth_name'] = 'emailng_webmail_auth';
$config['session_path'] = '/webmail/';
$config['session_samesite'] = 'Strict';
$config['session_storage'] = 'db';
$config['ip_check'] = true;          // a session is bound to the client's address
$config['x_frame_options'] = 'sameorigin';
$config['trusted_host_patterns'] = [{{webmail_trusted_hosts}}];
$config['use_secure_urls'] = false;
$config['display_product_info'] = 0;
$config['support_url'] = '';
$config['product_name'] = {{webmail_product_name}};
$config['skin'] = 'elastic';
$config['enable_spellcheck'] = false;   // no outside spell service
$config['max_message_size'] = '100%';

// --- plugins ------------------------------------------------------------------
$config['plugins'] = [{{webmail_plugins}}];

// managesieve: filters and the vacation reply edit the user's Sieve script
// over ManageSieve (STARTTLS), the same script any ManageSieve client sees.
$config['managesieve_host'] = '{{webmail_sieve_uri}}';
$config['managesieve_conn_options'] = $emailng_tls('{{webmail_imap_peer}}');
$config['managesieve_auth_type'] = 'PLAIN';
$config['managesieve_usetls'] = true;
$config['managesieve_vacation'] = 1;       // the filters and a vacation page
$config['managesieve_forward'] = 0;
$config['managesieve_script_name'] = 'roundcube';
$config['managesieve_replace_delimiter'] = '';

// archive: one Archive folder, created on first use.
$config['archive_mbox'] = 'Archive';
$config['archive_type'] = '';

// password: the user's own password, changed by emailng-passwd over its
// unix socket (poppassd dialogue) after it checked the current one: the
// web tier holds no directory credential (docs/admin-manual.md, "Webmail").
$config['password_driver'] = 'poppassd';
$config['password_pop_host'] = 'unix://{{run_dir}}/roundcube/passwd.sock';
$config['password_pop_port'] = -1;        // a unix socket: no port
$config['password_confirm_current'] = true;
$config['password_minimum_length'] = 10;
$config['password_force_save'] = false;
$config['password_login_exceptions'] = null;

// markasjunk: moves to Junk (and back to INBOX) and sets the $Junk /
// $NotJunk keywords; where emailng-junklist runs (directory and store on this
// host), driver cmd_learn also reports the sender to it: Junk adds the sender
// to the user's deny list, Not junk to the allow list (the lists of `emailng
// user spam`), after it checked the user has mail from that sender; the web
// tier holds no directory credential (docs/admin-manual.md, "Webmail").
$config['markasjunk_learning_driver'] = {{webmail_junk_driver}};
$config['markasjunk_spam_cmd'] = {{webmail_junk_spam_cmd}};
$config['markasjunk_ham_cmd'] = {{webmail_junk_ham_cmd}};
$config['markasjunk_spam_flag'] = '$Junk';     // RFC 5788 keywords, as other clients set them
$config['markasjunk_ham_flag'] = '$NotJunk';
$config['markasjunk_read_spam'] = true;
$config['markasjunk_unread_ham'] = false;
$config['markasjunk_move_spam'] = true;
$config['markasjunk_move_ham'] = true;
