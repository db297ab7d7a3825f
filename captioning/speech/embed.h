// NN_EMBED_FILE(name, "path"): the bytes of a file, linked into the object as read-only data with the assembler's
// .incbin, as `extern "C" const char name##_begin[], name##_end[]` (a NUL follows the end). Used for data a program
// must not have to find at run time: the pronouncing dictionary, the describe web page.
#pragma once

#define NN_EMBED_FILE(name, path)       \
  __asm__(                              \
      ".pushsection .rodata\n"          \
      ".balign 16\n"                    \
      ".global " #name "_begin\n" #name \
      "_begin:\n"                       \
      ".incbin \"" path                 \
      "\"\n"                            \
      ".global " #name "_end\n" #name   \
      "_end:\n"                         \
      ".byte 0\n"                       \
      ".popsection\n");                 \
  extern "C" const char name##_begin[]; \
  extern "C" const char name##_end[]
