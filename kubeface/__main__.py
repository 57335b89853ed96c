from kubeface.cli import main

main()
