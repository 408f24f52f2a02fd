// The declarations are in include/CTimerFD.h; SwiftPM needs a source file for a C target.
