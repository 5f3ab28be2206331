/* quarantine_name: the names of amavisd's quarantine files, TYPE-MAILID
 * ("virus-Xy1..", "spam-..."; templates/amavis/amavisd.conf): what
 * `emailng quarantine` lists and acts on and what emailng-metricsd counts,
 * by one rule. MAILID: letters, digits, + _ - . only; under 128 bytes in
 * all. */
#ifndef EMAILNG_QUARANTINE_NAME_H
#define EMAILNG_QUARANTINE_NAME_H

#define QUARANTINE_TYPES 5

/* "virus", "spam", "banned", "badh", "clean" */
extern const char *const quarantine_type_names[QUARANTINE_TYPES];

/* The index of name's type in quarantine_type_names, or -1 if name is not
 * a quarantine file's. */
int quarantine_name_type(const char *name);

#endif
