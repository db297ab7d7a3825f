# Install and export (cmake --install): the four libraries as nn::nn, nn::keras, nn::speech and nn::captioning for
# find_package(libnn), their public headers only, a libnn.pc for pkg-config, the programs, and the shipped model and
# sample image in share/libnn/ (where an installed describe looks for its default model).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(NN_LIBRARIES nn nn_keras speech captioning)
install(TARGETS ${NN_LIBRARIES} EXPORT libnnTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# Public headers. Internal ones stay in the source tree: the backends' kernels (nn/backends/cpu/, nn/backends/ref/),
# the ops' helpers (nn/ops/broadcast.h, unary.h, window.h, convert.h),
# fault injection (nn/io/fault.h), the HDF5 reader under nn::keras (nn/io/hdf5_file.h), the image decoders' shared
# internals (nn/io/image_codecs.h), the synthesiser's stages
# (captioning/speech/ but speech.h and text.h) and the web server (captioning/web/, not installed).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/nn/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nn
  FILES_MATCHING PATTERN "*.h"
  PATTERN "cpu" EXCLUDE PATTERN "ref" EXCLUDE PATTERN "broadcast.h" EXCLUDE PATTERN "unary.h" EXCLUDE
  PATTERN "window.h" EXCLUDE PATTERN "convert.h" EXCLUDE PATTERN "fault.h" EXCLUDE PATTERN "hdf5_file.h" EXCLUDE
  PATTERN "image_codecs.h" EXCLUDE)
install(FILES ${PROJECT_BINARY_DIR}/include/nn/core/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nn/core)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/captioning/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/captioning
  FILES_MATCHING PATTERN "*.h" PATTERN "web" EXCLUDE PATTERN "speech" EXCLUDE PATTERN "data" EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/captioning/speech/speech.h ${PROJECT_SOURCE_DIR}/captioning/speech/text.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/captioning/speech)

set(NN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/libnn)
install(EXPORT libnnTargets NAMESPACE nn:: DESTINATION ${NN_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/libnnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/libnnConfig.cmake INSTALL_DESTINATION ${NN_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/libnnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/libnnConfig.cmake ${PROJECT_BINARY_DIR}/libnnConfigVersion.cmake
  DESTINATION ${NN_CMAKE_DIR})

# pkg-config: one libnn.pc for all four libraries. They are static archives, so their dependencies are listed in
# Libs (a linker drops the archives a program does not use).
file(RELATIVE_PATH NN_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)  # e.g. ../..
configure_file(${PROJECT_SOURCE_DIR}/cmake/libnn.pc.in ${PROJECT_BINARY_DIR}/libnn.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/libnn.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The programs (tiny_train is a source-reading example, not a tool) and what describe needs at run time.
if(NN_BUILD_EXAMPLES)
  foreach(program describe describe_server say train_flickr8k train_shapes xception_features convert_keras_weights
                  bleu_score)
    if(TARGET ${program})
      install(TARGETS ${program} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
    endif()
  endforeach()
endif()
install(FILES ${PROJECT_SOURCE_DIR}/weights/shapes.nnck ${PROJECT_SOURCE_DIR}/weights/sample_shapes.jpg
  DESTINATION ${CMAKE_INSTALL_DATADIR}/libnn)
# The photo model and the Xception weights it finds by content beside it, once scripts/flickr8k.sh has made them.
install(FILES ${PROJECT_SOURCE_DIR}/weights/flickr8k.nnck ${PROJECT_SOURCE_DIR}/weights/xception_notop.nnck
  DESTINATION ${CMAKE_INSTALL_DATADIR}/libnn OPTIONAL)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/NOTICE ${PROJECT_SOURCE_DIR}/CHANGELOG.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
