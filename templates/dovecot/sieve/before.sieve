# EmailNG site-wide Sieve script, run before each user's own script
# (dovecot.conf: sieve_before). Requirements F3, F4.
#
# Spam goes to the Junk folder. The relay's amavisd scores every message
# (X-Spam-Score, read here with the spamtestplus extension) and the decision
# is made here, on the store, with the user's own settings from the
# directory: Dovecot's userdb turns emailngSpamThreshold, emailngSpamAllow
# and emailngSpamDeny into the plugin settings sieve_env_spam_threshold,
# sieve_env_spam_allow and sieve_env_spam_deny, which this script reads as
# vnd.dovecot.config.* (extensions given to global scripts only). Without
# a value of their own users get the site's filter.spam_junk_level
# ({{spam_junk_level}}) and empty lists.
#
#   0. DMARC quarantine (dmarc.mode enforce, below)       -> Junk
#   1. envelope sender (or its @domain) on the allow list -> keep
#   2. on the deny list                                   -> Junk
#   3. score >= threshold                                 -> Junk
#
# Pigeonhole runs the next script (the user's) only if this one keeps the
# message, so a message filed into Junk here is not seen by the user's
# script: no vacation reply or forward is ever made for spam. That is also
# why the per-user decision must live here and not in the user's script.
require ["fileinto", "mailbox", "envelope", "variables", "environment",
         "vnd.dovecot.environment", "spamtestplus", "relational",
         "comparator-i;ascii-numeric", "duplicate"];

# A3: a message accepted once is delivered once. SMTP and LMTP deliver at
# least once: when a host dies after it has stored a message but before
# its "250" reached the sender (a relay, a proxy or a store killed at that
# moment), the sender delivers it again. The second copy carries the same
# Message-ID and is discarded here (RFC 7352; Pigeonhole keeps the IDs it
# has seen per user for a day, in ~/.dovecot.lda-dupes; dovecot.log says
# "sieve: msgid=ID: discard action"). A message without a Message-ID is never taken
# for a duplicate. The IDs are per store: a copy delivered again to the
# other store of the pair is not caught here; the proxies' catch-up check
# removes it after the failover, with these same rules
# (docs/architecture.md 7a).
if duplicate :seconds 86400 {
  discard;
  stop;
}

# DMARC (issue 11; docs/admin-manual.md "DMARC"): with dmarc.mode enforce
# ({{dmarc_mode}} here), a message that failed DMARC while its From: domain
# asks for p=quarantine goes to Junk. The relay's OpenDMARC says so in its
# Authentication-Results under our own authserv-id, {{public_hostname}}:
# "dmarc=fail (p=quarantine dis=none)" (OpenDMARC writes dis=quarantine
# only when it has Postfix hold the message, which we do not want). A
# p=reject failure gets here only when the domain's pct= spared it from
# refusal, and then RFC 7489 6.6.4 asks for quarantine: Junk too.
# Only our relays' header can start with that authserv-id: the relays'
# Postfix removes every copy arriving from outside (header-checks) before
# OpenDMARC adds its own.
if allof (string :is "{{dmarc_mode}}" "enforce",
          anyof (header :matches "Authentication-Results" "{{public_hostname}};*dmarc=fail (p=quarantine *",
                 header :matches "Authentication-Results" "{{public_hostname}};*dmarc=fail (p=reject *")) {
  fileinto :create "Junk";
  stop;
}

set "sender" "";
if envelope :all :matches "from" "*" { set :lower "sender" "${1}"; }
set "sender_domain" "";
if envelope :domain :matches "from" "*" { set :lower "sender_domain" "${1}"; }

# The lists arrive as the attribute values joined with ",".
set "allow" "";
if environment :matches "vnd.dovecot.config.spam_allow" "*" { set :lower "allow" ",${1},"; }
set "deny" "";
if environment :matches "vnd.dovecot.config.spam_deny" "*" { set :lower "deny" ",${1},"; }

# The threshold has one decimal ("4.5"); spamtest :percent gives the score
# in tenths of a point (sieve_spamtest_max_value = 10), so "4.5" -> "45".
set "threshold" "{{spam_junk_percent}}";
if environment :matches "vnd.dovecot.config.spam_threshold" "*.*" { set "threshold" "${1}${2}"; }

if allof (not string :is "${sender}" "",
          anyof (string :contains "${allow}" ",${sender},",
                 string :contains "${allow}" ",@${sender_domain},")) {
  # allow-listed: nothing here (no explicit keep, so that the user's own
  # script still runs and decides)
} elsif allof (not string :is "${sender}" "",
               anyof (string :contains "${deny}" ",${sender},",
                      string :contains "${deny}" ",@${sender_domain},")) {
  fileinto :create "Junk";
} elsif spamtest :percent :value "ge" :comparator "i;ascii-numeric" "${threshold}" {
  fileinto :create "Junk";
}
