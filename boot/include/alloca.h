#ifndef BOOT_ALLOCA_H
#define BOOT_ALLOCA_H
#define alloca __builtin_alloca
#endif
