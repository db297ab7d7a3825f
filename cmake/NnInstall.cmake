# Install and export, so that another CMake project can find_package(libnn) and link nn::nn (and nn::keras, the
# Keras .h5 reader).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS nn nn_keras EXPORT libnnTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/nn/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nn
  FILES_MATCHING PATTERN "*.h")

set(NN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/libnn)
install(EXPORT libnnTargets NAMESPACE nn:: DESTINATION ${NN_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/libnnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/libnnConfig.cmake INSTALL_DESTINATION ${NN_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/libnnConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/libnnConfig.cmake ${PROJECT_BINARY_DIR}/libnnConfigVersion.cmake
  DESTINATION ${NN_CMAKE_DIR})
