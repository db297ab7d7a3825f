# docs/library.md's snippets as tests: every ```cpp block of the page is a whole program, written at configure time
# to tests/docs/NN.cpp in the build folder, compiled against nn::nn with the project's warnings, and run by the test
# docs_snippet_NN_<section> (label "docs"), which passes when the program exits 0. Each program checks what the page
# says about it, so a snippet that stops compiling or no longer tells the truth fails. A #line directive points
# compiler errors at the page's own lines. Editing the page re-runs the configure step.
set(NN_LIBRARY_MD ${PROJECT_SOURCE_DIR}/docs/library.md)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${NN_LIBRARY_MD})
file(READ ${NN_LIBRARY_MD} nn_page)

set(nn_fence_open "```cpp\n")
set(nn_fence_close "\n```")
set(nn_snippet_dir ${CMAKE_CURRENT_BINARY_DIR}/docs)
set(nn_snippet_count 0)
set(nn_section "top")
set(nn_line 1)  # the page's line number at the start of `nn_page`
while(TRUE)
  string(FIND "${nn_page}" "${nn_fence_open}" nn_open)
  if(nn_open EQUAL -1)
    break()
  endif()
  string(SUBSTRING "${nn_page}" 0 ${nn_open} nn_before)
  # The section: the last "## " heading above the block, as a test-name slug ("Saving and loading" → saving_and_loading).
  string(REGEX MATCHALL "\n## [^\n]*" nn_headings "${nn_before}")
  if(nn_headings)
    list(GET nn_headings -1 nn_heading)
    string(REGEX REPLACE "^\n## " "" nn_heading "${nn_heading}")
    string(TOLOWER "${nn_heading}" nn_section)
    string(REGEX REPLACE "[^a-z0-9]+" "_" nn_section "${nn_section}")
    string(REGEX REPLACE "^_|_$" "" nn_section "${nn_section}")
  endif()
  string(REGEX MATCHALL "\n" nn_newlines "${nn_before}")
  list(LENGTH nn_newlines nn_count)
  math(EXPR nn_code_line "${nn_line} + ${nn_count} + 1")
  string(LENGTH "${nn_fence_open}" nn_fence_length)
  math(EXPR nn_code_start "${nn_open} + ${nn_fence_length}")
  string(SUBSTRING "${nn_page}" ${nn_code_start} -1 nn_page)
  string(FIND "${nn_page}" "${nn_fence_close}" nn_close)
  if(nn_close EQUAL -1)
    message(FATAL_ERROR "${NN_LIBRARY_MD}:${nn_code_line}: a ```cpp block that is never closed")
  endif()
  string(SUBSTRING "${nn_page}" 0 ${nn_close} nn_code)
  string(REGEX MATCHALL "\n" nn_newlines "${nn_code}")
  list(LENGTH nn_newlines nn_count)
  math(EXPR nn_line "${nn_code_line} + ${nn_count}")  # the rest starts with the last code line's newline
  string(SUBSTRING "${nn_page}" ${nn_close} -1 nn_page)

  math(EXPR nn_snippet_count "${nn_snippet_count} + 1")
  set(nn_number ${nn_snippet_count})
  if(nn_number LESS 10)
    set(nn_number 0${nn_number})
  endif()
  # Written through configure_file, which leaves an unchanged file alone (no rebuild after an unrelated page edit).
  file(WRITE ${nn_snippet_dir}/${nn_number}.cpp.new "#line ${nn_code_line} \"${NN_LIBRARY_MD}\"\n${nn_code}\n")
  configure_file(${nn_snippet_dir}/${nn_number}.cpp.new ${nn_snippet_dir}/${nn_number}.cpp COPYONLY)
  set(nn_target docs_snippet_${nn_number})
  add_executable(${nn_target} ${nn_snippet_dir}/${nn_number}.cpp)
  target_link_libraries(${nn_target} PRIVATE nn::nn)
  nn_set_warnings(${nn_target})
  # Each runs in a folder of its own, where it may write files (the checkpoint snippet does).
  file(MAKE_DIRECTORY ${nn_snippet_dir}/run_${nn_number})
  add_test(NAME ${nn_target}_${nn_section} COMMAND ${nn_target} WORKING_DIRECTORY ${nn_snippet_dir}/run_${nn_number})
  set_tests_properties(${nn_target}_${nn_section} PROPERTIES LABELS "docs;docs_snippets" TIMEOUT 120)
endwhile()

# A page whose blocks the loop above cannot find (a renamed fence, say) must not pass with no tests at all.
if(nn_snippet_count LESS 5)
  message(FATAL_ERROR "${NN_LIBRARY_MD}: found ${nn_snippet_count} ```cpp blocks, expected the tour's (at least 5)")
endif()
message(STATUS "docs/library.md: ${nn_snippet_count} snippets, tests docs_snippet_*")
