# Run by Dovecot's quota-warning service (dovecot.conf), as vmail, through
# Dovecot's `script` helper: quota-warning.sh PERCENT USER, when a save takes
# USER over PERCENT % of their quota. It delivers the notice
# {{quota_warning_message}} (headers, an empty line, the body; @PERCENT@ and
# @USER@ replaced: translate that file, not this one) with dovecot-lda, which
# looks USER up and writes the mail as vmail. The notice itself is not
# refused for quota (noenforcing); it can set off a warning only by
# crossing a threshold itself (never twice: a crossing is from below).
# dovecot-lda logs each notice to quota-warning.log (vmail's, made by
# `emailng up`): vmail may not write dovecot.log, nor use the stats socket.
set -eu
percent=$1
user=$2
case $percent in ''|*[!0-9]*) echo "quota-warning: not a percentage: $percent" >&2; exit 64 ;; esac
case $user in ''|-*|*[!A-Za-z0-9@._+-]*) echo "quota-warning: not a user name" >&2; exit 64 ;; esac
{
    printf 'Date: %s\nMessage-ID: <quota-warning.%s.%s@%s>\n' "$(LC_ALL=C date -R)" "$(date +%s)" "$$" '{{public_hostname}}'
    sed -e "s/@PERCENT@/$percent/g" -e "s/@USER@/$user/g" '{{quota_warning_message}}'
} | /usr/lib/dovecot/dovecot-lda -c '{{etc_dir}}/dovecot/dovecot.conf' -d "$user" \
        -o 'plugin/quota=count:User quota:noenforcing' \
        -o log_path='{{log_dir}}/quota-warning.log' -o stats_writer_socket_path=
