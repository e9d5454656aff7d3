// libxcrypt (Debian's libcrypt-dev, which libc6-dev depends on): the system's maintained
// crypt(3), used here only to verify bcrypt hashes imported from other systems.
#include <crypt.h>
