# EmailNG site-wide Sieve script, run before each user's own script
# (dovecot.conf: sieve_before). Requirement F3.
#
# Mail tagged as spam by the content filter goes to the Junk folder.
#
# Pigeonhole runs the next script of the sequence (the user's) only if this
# one keeps the message. So a message filed into Junk here is not seen by
# the user's script: no vacation reply or forward is ever made for spam.
# Every other message continues to the user's script unchanged.
require ["fileinto", "mailbox"];

if header :contains "X-Spam-Flag" "YES" {
  fileinto :create "Junk";
}
