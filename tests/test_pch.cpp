// The test program without tests that compiles the test files' precompiled headers (tests/CMakeLists.txt).
