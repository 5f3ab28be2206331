/* quarantine_name: see quarantine_name.h. */
#include "quarantine_name.h"

#include <string.h>

const char *const quarantine_type_names[QUARANTINE_TYPES] = {"virus", "spam", "banned", "badh", "clean"};

int quarantine_name_type(const char *name)
{
    if (strlen(name) >= 128)
        return -1;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '+' ||
              *p == '_' || *p == '-' || *p == '.'))
            return -1;
    for (int i = 0; i < QUARANTINE_TYPES; i++) {
        size_t n = strlen(quarantine_type_names[i]);
        if (strncmp(name, quarantine_type_names[i], n) == 0 && name[n] == '-')
            return i;
    }
    return -1;
}
