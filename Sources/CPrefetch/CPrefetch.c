// Everything is in include/CPrefetch.h (inline); SwiftPM wants a source file per C target.
#include "CPrefetch.h"
